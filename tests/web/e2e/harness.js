/*
 * harness.js - what the end-to-end tests stand on: the real binaries
 * (`minqing`, `minqing-server`), a county server seeded with the reference
 * data set and started with `serve`, tablets enrolled and synced, the
 * tablet's host `minqing ui`, headless Chromium driven by playwright-core,
 * screenshots, and a plain test list that prints one line per step.
 *
 * Every process started here is stopped at the end, by its own pid.
 */
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const assert = require('assert');

const BUILD = path.resolve(process.env.MQ_BUILD || 'build');
const TOP = path.resolve(__dirname, '..', '..', '..');
const MQ = process.env.MQ_CLI || path.join(BUILD, 'apps', 'cli', 'minqing');
const SRV = process.env.MQ_SERVER || path.join(BUILD, 'apps', 'server', 'minqing-server');
const GEN = process.env.MQ_GEN || path.resolve(TOP, '..', 'shared', 'data', 'gen_cards.py');
const SHOTS = process.env.MQ_SHOTS || path.join(BUILD, 'web-shots');
const CHROMIUM = process.env.MQ_CHROMIUM || '/usr/bin/chromium';
/* Debian's python3, which has python3-openpyxl (a python3 first on PATH may not). */
const PYTHON = process.env.MQ_PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mq-e2e-'));
const children = [];

function log(s) {
    process.stdout.write(s + '\n');
}

/** Runs a command to its end; returns stdout; throws with stderr on failure. */
function run(cmd, args, opts) {
    opts = opts || {};
    const r = spawnSync(cmd, args, {
        input: opts.input, encoding: 'utf8', env: Object.assign({}, process.env, opts.env || {}),
        cwd: opts.cwd || work, maxBuffer: 64 << 20
    });
    if (r.error) throw r.error;
    if (r.status !== 0 && !opts.mayFail) {
        throw new Error(path.basename(cmd) + ' ' + args.join(' ') + ' exited ' + r.status + ': ' + r.stderr);
    }
    return opts.mayFail ? r : r.stdout;
}

const SERVER_ENV = { MINQING_SERVER_DB: path.join(work, 'county.db') };

function srv(args, opts) {
    return run(SRV, args, Object.assign({}, opts, { env: SERVER_ENV }));
}

/** A tablet replica: `minqing --db work/NAME.db ...`. */
function tablet(name) {
    const db = path.join(work, name + '.db');
    const t = function (args, opts) { return run(MQ, ['--db', db].concat(args), opts); };
    t.db = db;
    t.site = name;
    t.json = function (args) { return JSON.parse(t(args)); };
    t.lines = function (args) {
        return t(args).split('\n').filter(Boolean).map(function (l) { return JSON.parse(l); });
    };
    return t;
}

/**
 * Starts a long-running process and resolves with the first line of its
 * stdout that matches `re` (the address it prints).
 */
function start(cmd, args, re, env, label) {
    return new Promise(function (resolve, reject) {
        const out = fs.openSync(path.join(work, label + '.err'), 'w');
        const child = spawn(cmd, args, { cwd: work, env: Object.assign({}, process.env, env || {}), stdio: ['ignore', 'pipe', out] });
        child.label = label;
        children.push(child);
        let buf = '';
        const timer = setTimeout(function () {
            reject(new Error(label + ' printed no address in 15 s; stdout: ' + buf + '; stderr: ' +
                fs.readFileSync(path.join(work, label + '.err'), 'utf8')));
        }, 15000);
        child.stdout.on('data', function (d) {
            buf += d.toString();
            const m = re.exec(buf);
            if (m) {
                clearTimeout(timer);
                resolve({ child: child, match: m });
            }
        });
        child.on('exit', function (code) {
            clearTimeout(timer);
            reject(new Error(label + ' exited ' + code + ' before printing its address: ' +
                fs.readFileSync(path.join(work, label + '.err'), 'utf8')));
        });
    });
}

/** Stops the process started as `label` and waits for its end. */
function stop(label) {
    const c = children.find(function (x) { return x.label === label; });
    if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    return new Promise(function (resolve) {
        c.removeAllListeners('exit');
        c.on('exit', function () { resolve(); });
        process.kill(c.pid, 'SIGTERM');
    });
}

function stopAll() {
    children.forEach(function (c) {
        if (c.exitCode === null && c.signalCode === null) {
            try { process.kill(c.pid, 'SIGTERM'); } catch (e) { /* already gone */ }
        }
    });
}

/* The first record of a type in a JSON Lines data set. */
function records(file) {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(function (l) { return JSON.parse(l); });
}

/**
 * Seeds everything: two village committees (two seeds of the reference
 * data set, each its own county tree), the server on loopback, two office
 * accounts (one per village), tablets a and b enrolled for village 1 and
 * synced, and tablet a's `minqing ui`.
 */
async function seed() {
    const v1 = path.join(work, 'village1.jsonl');
    const v2 = path.join(work, 'village2.jsonl');
    fs.writeFileSync(v1, run(PYTHON, [GEN, '--households', '88']));
    fs.writeFileSync(v2, run(PYTHON, [GEN, '--households', '40', '--seed', '7']));
    const r1 = records(v1);
    const r2 = records(v2);
    srv(['import', v1]);
    srv(['import', v2]);
    const village1 = r1.find(function (r) { return r.type === 'area' && r.fields.level === 'village'; });
    const village2 = r2.find(function (r) { return r.type === 'area' && r.fields.level === 'village'; });
    const groups1 = r1.filter(function (r) { return r.type === 'area' && r.fields.level === 'group'; });
    const cadre = r1.find(function (r) { return r.type === 'cadre'; });

    const served = await start(SRV, ['serve', '--listen', '127.0.0.1:0'], /listening on (http:\/\/[^\s]+)/, SERVER_ENV, 'serve');
    const url = served.match[1].replace(/\/$/, '');

    const tokA = srv(['device', 'add', 'tablet-a', '--area', village1.id, '--cadre', cadre.id]).trim();
    const tokB = srv(['device', 'add', 'tablet-b', '--area', village1.id]).trim();
    /* Office accounts; a failure here fails the office's tests, not the tablet's. */
    try {
        srv(['user', 'add', 'office-v1', '--area', village1.id], { input: 'pass-v1-secret\n' });
        srv(['user', 'add', 'office-v2', '--area', village2.id], { input: 'pass-v2-secret\n' });
    } catch (e) {
        log('# office accounts not made: ' + e.message.split('\n')[0]);
    }

    const a = tablet('a');
    const b = tablet('b');
    a(['init', '--site', 'tablet-a', '--cadre', cadre.id]);
    b(['init', '--site', 'tablet-b', '--cadre', cadre.id]);
    a(['sync', '--server', url, '--token', tokA]);
    b(['sync', '--server', url, '--token', tokB]);

    const ui = await start(MQ, ['--db', a.db, 'ui', '--listen', '127.0.0.1:0'], /(http:\/\/127\.0\.0\.1:\d+\/#k=[^\s]+)/, {}, 'ui');
    return {
        url: url, uiUrl: ui.match[1], a: a, b: b, village1: village1, village2: village2, groups1: groups1,
        cadre: cadre, r1: r1, r2: r2, v1: v1, v2: v2,
        offices: { v1: ['office-v1', 'pass-v1-secret'], v2: ['office-v2', 'pass-v2-secret'] }
    };
}

/* ---- the browser ---------------------------------------------------------- */

let browser = null;

async function launch() {
    let pw;
    try {
        pw = require('playwright-core');
    } catch (e) {
        throw new Error('playwright-core not found (set NODE_PATH to a node_modules that has it): ' + e.message);
    }
    browser = await pw.chromium.launch({
        executablePath: CHROMIUM, headless: true,
        args: ['--no-sandbox', '--disable-dev-shm-usage', '--lang=zh-CN']
    });
    return browser;
}

const pageErrors = [];

/** A fresh context (its own cookies and storage) and page. */
async function newPage(viewport) {
    const ctx = await browser.newContext({ viewport: viewport || { width: 800, height: 1280 }, acceptDownloads: true, locale: 'zh-CN' });
    const page = await ctx.newPage();
    page.on('pageerror', function (e) { pageErrors.push(e.message); log('# page error: ' + e.message); });
    page.on('console', function (m) {
        if (m.type() === 'error' && !/status of (4\d\d)/.test(m.text())) {
            pageErrors.push(m.text());
            log('# console error: ' + m.text());
        }
    });
    return page;
}

const SIZES = [['tablet', 800, 1280], ['phone', 360, 740]];
const shots = [];

/**
 * Saves the page at tablet and at phone size (SHOTS/NAME-tablet.png,
 * -phone.png), and checks at each that nothing sticks out sideways and
 * that every control is touch-sized.
 */
async function shot(page, name) {
    fs.mkdirSync(SHOTS, { recursive: true });
    const before = page.viewportSize();
    /* a passing status line is not part of the screen */
    await page.evaluate(function () { const t = document.getElementById('toast'); if (t) t.className = ''; });
    for (const [label, w, hgt] of SIZES) {
        await page.setViewportSize({ width: w, height: hgt });
        await page.evaluate(function () { window.scrollTo(0, 0); });
        await page.waitForTimeout(150);
        const file = path.join(SHOTS, name + '-' + label + '.png');
        await page.screenshot({ path: file, fullPage: true });
        shots.push(file);
        /* Nothing may stick out sideways at either size. */
        const wide = await page.evaluate(function () { return document.documentElement.scrollWidth - window.innerWidth; });
        assert.ok(wide <= 1, name + ' at ' + label + ' size is ' + wide + ' px wider than the screen');
        await checkTouch(page, name + ' at ' + label + ' size');
    }
    await page.setViewportSize(before);
}

/** Every visible button, link, summary, input and select at least 44 px high. */
async function checkTouch(page, name) {
    const small = await page.evaluate(function () {
        const out = [];
        document.querySelectorAll('button, a.btn, #nav a, #main a, summary, input:not([type=checkbox]), select, .tag').forEach(function (e) {
            const r = e.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) return;
            if (r.height < 43.5) out.push(e.tagName + ' "' + (e.textContent || e.name || '').trim().slice(0, 20) + '" ' + Math.round(r.height) + 'px');
        });
        return out;
    });
    assert.deepStrictEqual(small, [], name + ': controls under 44 px: ' + small.join('; '));
}

/* ---- the test list ---------------------------------------------------------- */

const tests = [];
function test(name, fn) { tests.push({ name: name, fn: fn }); }

async function runTests(ctx) {
    let n = 0, failed = 0;
    fs.rmSync(SHOTS, { recursive: true, force: true });
    const only = process.env.MQ_E2E_GREP ? new RegExp(process.env.MQ_E2E_GREP) : null;
    for (const t of tests) {
        n++;
        if (only && t.name.indexOf('[setup]') !== 0 && !only.test(t.name)) {
            log('ok ' + n + ' - ' + t.name + ' # SKIP not in MQ_E2E_GREP');
            continue;
        }
        const t0 = Date.now();
        try {
            await t.fn(ctx);
            log('ok ' + n + ' - ' + t.name + ' (' + (Date.now() - t0) + ' ms)');
        } catch (e) {
            failed++;
            log('not ok ' + n + ' - ' + t.name);
            log('# ' + (e && e.stack ? e.stack : e).toString().split('\n').join('\n# '));
            if (ctx.lastPage) {
                try {
                    fs.mkdirSync(SHOTS, { recursive: true });
                    await ctx.lastPage.screenshot({ path: path.join(SHOTS, 'FAILED-' + n + '.png'), fullPage: true });
                } catch (e2) { /* the page may be gone */ }
            }
            if (t.name.indexOf('[setup]') === 0) break;
        }
    }
    log('1..' + n);
    return failed;
}

function cleanup() {
    stopAll();
    if (browser) browser.close().catch(function () {});
    if (!process.env.MQ_E2E_KEEP) fs.rmSync(work, { recursive: true, force: true });
    else log('# kept ' + work);
}

module.exports = {
    PYTHON: PYTHON, BUILD: BUILD, SHOTS: SHOTS, work: work, run: run, stop: stop, srv: srv, tablet: tablet, seed: seed,
    launch: launch, newPage: newPage, shot: shot, shots: shots, checkTouch: checkTouch,
    test: test, runTests: runTests, cleanup: cleanup, log: log, pageErrors: pageErrors
};

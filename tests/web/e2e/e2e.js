/*
 * e2e.js - the web app end to end, in headless Chromium, against the real
 * hosts: tablet a's `minqing ui` over its own store, and the county's
 * `minqing-server serve` for the office.  What a cadre does in a yard and
 * what the office does at its desk, each step checked on the screen and,
 * where it must travel, on another replica through a real sync.
 *
 *   node tests/web/e2e/e2e.js      (tests/web/e2e/run.sh sets the paths)
 */
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const H = require('./harness');
const test = H.test;

function addDays(day, n) {
    const d = new Date(day + 'T00:00:00Z');
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
}

/* Waits until the toast shows text matching re. */
async function toast(page, re) {
    await page.waitForFunction(function (src) {
        const t = document.getElementById('toast');
        return t && t.classList.contains('show') && new RegExp(src).test(t.textContent);
    }, re.source, { timeout: 10000 });
}

async function syncInUi(page) {
    await page.goto(S.uiBase + '#/sync');
    await page.waitForSelector('#sync-btn:not([disabled])');
    await page.click('#sync-btn');
    await page.waitForFunction(function () {
        const b = document.getElementById('sync-btn');
        const r = document.getElementById('sync-result');
        return b && !b.disabled && r && /已发送|没有完成/.test(r.textContent);
    }, null, { timeout: 30000 });
    return page.textContent('#sync-result');
}

async function signIn(page, who) {
    await page.goto(S.url + '/');
    await page.waitForSelector('#login-name');
    await page.fill('#login-name', who[0]);
    await page.fill('#login-pass', who[1]);
    await page.click('form.login button[type=submit]');
    await page.waitForSelector('.tiles', { timeout: 15000 });
}

const S = {};

test('[setup] seed a county server, two tablets, two office accounts; start both hosts', async function () {
    Object.assign(S, await H.seed());
    S.uiBase = S.uiUrl.replace(/#.*$/, '');
    await H.launch();
});

/* ---- the cadre, on tablet a ---------------------------------------------------- */

test('tablet: the secret is taken from the address, kept for the tab, and the hash cleared', async function (ctx) {
    const page = S.tab = ctx.lastPage = await H.newPage();
    await page.goto(S.uiUrl);
    await page.waitForSelector('#worklist .row, #worklist .empty');
    assert.strictEqual(await page.evaluate(function () { return window.location.hash; }), '#/work');
    const kept = await page.evaluate(function () { return sessionStorage.getItem('mq_secret'); });
    assert.strictEqual(kept, S.uiUrl.split('#k=')[1]);
    const me = await page.evaluate(function () { return MQ.app.me; });
    assert.strictEqual(me.host, 'tablet');
    assert.strictEqual(me.cadre.id, S.cadre.id);
    S.today = me.today;
    /* A page without the secret is refused by the host. */
    const bare = await H.newPage();
    await bare.goto(S.uiBase);
    await bare.waitForSelector('#main .alert.bad');
    assert.match(await bare.textContent('#main'), /minqing ui/);
    const st = await bare.evaluate(async function () { return (await fetch('/api/me')).status; });
    assert.strictEqual(st, 401);
    await bare.context().close();
    await H.shot(page, 'tablet-worklist');
});

test('tablet: find a household by a prefix of the head\'s name and open its file', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    const hh = S.a.lines(['list', 'household'])[3];
    S.hh = hh;
    const prefix = Array.from(hh.fields.head_name)[0];
    await page.click('#nav a[data-path="/search"]');
    await page.fill('#q', prefix);
    await page.waitForSelector('#results a[href="#/hh/' + hh.id + '"]');
    const names = await page.$$eval('#results .hh-row strong', function (n) { return n.map(function (x) { return x.textContent; }); });
    assert.ok(names.length > 0);
    await H.shot(page, 'tablet-search');
    await page.click('#results a[href="#/hh/' + hh.id + '"]');
    await page.waitForSelector('.hh-name');
    assert.strictEqual(await page.textContent('.hh-name'), hh.fields.head_name);
    const members = S.a.lines(['list', 'member', '--where', 'household=' + hh.id]);
    assert.strictEqual(await page.$$eval('.members li', function (l) { return l.length; }), members.length);
    await H.shot(page, 'tablet-household');
});

test('tablet: register a need; the deadline comes from its category (housing: 30 days)', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    await page.click('a[href="#/hh/' + S.hh.id + '/need"]');
    await page.waitForSelector('form[data-type=need]');
    await page.selectOption('select[name=category]', 'housing');
    const want = addDays(S.today, 30);
    assert.strictEqual(await page.inputValue('input[name=deadline]'), want);
    assert.match(await page.textContent('#deadline-hint'), new RegExp(want));
    /* The description is required: saving without it shows the rule and sends nothing. */
    const before = S.a.lines(['list', 'need', '--where', 'household=' + S.hh.id]).length;
    await page.click('form[data-type=need] button[type=submit]');
    await page.waitForSelector('.field[data-field=description].invalid');
    assert.match(await page.textContent('.field[data-field=description] .rule'), /必填/);
    await H.shot(page, 'tablet-need-form');
    const desc = '房屋漏雨，需危房改造（测试 ' + Date.now() + '）';
    S.needDesc = desc;
    await page.fill('textarea[name=description]', desc);
    await page.click('form[data-type=need] button[type=submit]');
    await page.waitForSelector('.hh-name');
    const card = page.locator('article.need', { hasText: desc });
    await card.waitFor();
    assert.strictEqual((await card.locator('.deadline').textContent()).trim(), want);
    S.needId = await card.getAttribute('data-need');
    const saved = S.a.lines(['list', 'need', '--where', 'household=' + S.hh.id]);
    assert.strictEqual(saved.length, before + 1);
    const rec = S.a.json(['get', S.needId]);
    assert.strictEqual(rec.fields.deadline, want);
    assert.strictEqual(rec.fields.category, 'housing');
    assert.strictEqual(rec.fields.recorded_by, S.cadre.id);
    /* 首问责任: taken by the cadre who registered it */
    const acts = S.a.lines(['list', 'need_action', '--where', 'need=' + S.needId]);
    assert.deepStrictEqual(acts.map(function (x) { return [x.fields.action, x.fields.by]; }), [['accept', S.cadre.id]]);
});

test('tablet: an identity number with a wrong check digit shows the rule and saves nothing', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    const before = S.a.lines(['list', 'household']).length;
    await page.click('#nav a[data-path="/new/household"]');
    await page.waitForSelector('form[data-type=household]');
    const good = '532327198001010015';
    /* the same number with another check digit */
    const bad = good.slice(0, 17) + '1';
    await page.selectOption('select[name=area]', S.groups1[0].id);
    await page.fill('input[name=head_name]', '测试户主');
    await page.fill('input[name=head_id_number]', bad);
    await page.fill('input[name=phone]', '1380000');
    await page.click('form[data-type=household] button[type=submit]');
    await page.waitForSelector('.field[data-field=head_id_number].invalid');
    /* the press reached the button (no layout shift ate it) and said why at the top too */
    await page.waitForSelector('form[data-type=household] .form-error:not([hidden])');
    assert.match(await page.textContent('.field[data-field=head_id_number] .rule'), /校验位应为 5/);
    assert.match(await page.textContent('.field[data-field=phone] .rule'), /11 位/);
    await H.shot(page, 'tablet-household-form-rules');
    assert.strictEqual(S.a.lines(['list', 'household']).length, before, 'nothing saved');
    /* Corrected, it saves and opens the new file. */
    await page.fill('input[name=head_id_number]', good);
    await page.fill('input[name=phone]', '13800000000');
    await page.click('form[data-type=household] button[type=submit]');
    await page.waitForSelector('.hh-name');
    assert.strictEqual(await page.textContent('.hh-name'), '测试户主');
    assert.strictEqual(S.a.lines(['list', 'household']).length, before + 1);
});

test('tablet: the store\'s own refusal is shown next to its field', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    /* Sent past the page's checks: the host answers 400 with "fields". */
    const res = await page.evaluate(async function () {
        try {
            await MQ.api.post('/api/records/household', { fields: { head_name: 'x', head_id_number: '532327198001010011', area: MQ.app.me.areas[0].id } });
            return null;
        } catch (e) { return { status: e.status, code: e.code, fields: e.fields }; }
    });
    assert.strictEqual(res.status, 400);
    assert.strictEqual(res.code, 'invalid');
    assert.ok(res.fields && res.fields.head_id_number, JSON.stringify(res));
});

test('tablet: the need is in the work list; closed with a closure card it leaves it', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    await page.goto(S.uiBase + '#/work');
    await page.waitForSelector('#worklist [data-need="' + S.needId + '"]');
    await page.goto(S.uiBase + '#/hh/' + S.hh.id);
    const card = page.locator('article.need[data-need="' + S.needId + '"]');
    await card.locator('button', { hasText: '办结' }).click();
    await page.waitForSelector('.sheet form.closure');
    await page.fill('.sheet textarea[name=note], .sheet input[name=note]', '已联系住建部门，完成危房改造');
    await page.fill('.sheet input[name=amount_yuan]', '12000');
    await page.selectOption('.sheet select[name=satisfaction]', 'satisfied');
    await H.shot(page, 'tablet-closure-card');
    await page.click('.sheet button[type=submit]');
    await toast(page, /已办结/);
    await page.waitForSelector('article.need.closed[data-need="' + S.needId + '"]', { state: 'attached' });
    const acts = S.a.lines(['list', 'need_action', '--where', 'need=' + S.needId]);
    const resolve = acts.find(function (x) { return x.fields.action === 'resolve'; });
    assert.ok(resolve, 'a resolve action was written');
    assert.strictEqual(resolve.fields.satisfaction, 'satisfied');
    assert.strictEqual(resolve.fields.amount_yuan, 12000);
    await page.goto(S.uiBase + '#/work');
    await page.waitForSelector('#worklist .row, #worklist .empty');
    assert.strictEqual(await page.$('#worklist [data-need="' + S.needId + '"]'), null, 'the closed need left the work list');
    /* The history names who did it. */
    await page.goto(S.uiBase + '#/hh/' + S.hh.id);
    await page.click('.history-box summary');
    assert.match(await page.textContent('.history'), new RegExp(S.cadre.fields.name));
});

test('tablet: reopen the need, then the contact card prints on A6', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    await page.locator('.card-section summary', { hasText: '已办结' }).click();
    await page.locator('article.need[data-need="' + S.needId + '"] button', { hasText: '重新办理' }).click();
    await page.fill('.sheet [name=note]', '农户反映仍漏雨');
    await page.click('.sheet button[type=submit]');
    await toast(page, /重新办理/);
    await page.waitForSelector('article.need.open[data-need="' + S.needId + '"]');
    await page.click('button:has-text("发联系卡")');
    await page.waitForSelector('#print-card');
    const text = await page.textContent('#print-card');
    assert.match(text, new RegExp(S.hh.fields.head_name));
    assert.match(text, new RegExp(S.cadre.fields.name));
    assert.match(text, new RegExp(S.cadre.fields.phone));
    await H.shot(page, 'tablet-contact-card');
    await page.emulateMedia({ media: 'print' });
    const box = await page.evaluate(function () {
        const r = document.getElementById('print-card').getBoundingClientRect();
        const nav = getComputedStyle(document.getElementById('top')).display;
        return { w: r.width, h: r.height, nav: nav };
    });
    /* back to no emulation: page.pdf() then prints with the print media */
    await page.emulateMedia({ media: null });
    assert.strictEqual(box.nav, 'none', 'the navigation is not printed');
    /* 93 mm at 96 dpi is 351.5 px: the card fits A6 less its margins. */
    assert.ok(box.w > 340 && box.w < 360, 'card width ' + box.w);
    const pdf = await page.pdf({ preferCSSPageSize: true });
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) || []).length;
    assert.strictEqual(pages, 1, 'the card prints on one page');
    const m = /\/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)/.exec(pdf.toString('latin1'));
    assert.ok(m && Math.abs(+m[1] - 297.6) < 3 && Math.abs(+m[2] - 419.5) < 3, 'A6 page: ' + (m && m[0]));
});

test('tablet: transfer the reopened need to another cadre; it leaves this cadre\'s work list', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    const other = S.r1.find(function (r) { return r.type === 'cadre' && r.id !== S.cadre.id; });
    await page.goto(S.uiBase + '#/work');
    await page.waitForSelector('#worklist [data-need="' + S.needId + '"]');
    await page.goto(S.uiBase + '#/hh/' + S.hh.id);
    await page.locator('article.need[data-need="' + S.needId + '"] button', { hasText: '转办' }).click();
    await page.waitForSelector('.sheet select[name=to]');
    await page.selectOption('.sheet select[name=to]', other.id);
    await page.fill('.sheet [name=note]', '转交住建专干');
    await page.click('.sheet button[type=submit]');
    await toast(page, /已转办/);
    const acts = S.a.lines(['list', 'need_action', '--where', 'need=' + S.needId]);
    const tr = acts.find(function (x) { return x.fields.action === 'transfer'; });
    assert.ok(tr && tr.fields.to === other.id && tr.fields.by === S.cadre.id, JSON.stringify(acts));
    await page.goto(S.uiBase + '#/work');
    await page.waitForSelector('#worklist .row, #worklist .empty');
    assert.strictEqual(await page.$('#worklist [data-need="' + S.needId + '"]'), null, 'handled by the other cadre now');
});

test('tablet: record a visit; it shows in the file', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    await page.goto(S.uiBase + '#/hh/' + S.hh.id);
    await page.click('a[href="#/hh/' + S.hh.id + '/visit"]');
    await page.waitForSelector('form[data-type=visit]');
    assert.strictEqual(await page.inputValue('input[name=at]'), S.today);
    await page.fill('textarea[name=notes]', '入户走访，了解危房改造进度');
    await page.click('form[data-type=visit] button[type=submit]');
    await page.waitForSelector('.hh-name');
    await page.waitForSelector('.log li:has-text("入户走访，了解危房改造进度")');
    const v = S.a.lines(['list', 'visit', '--where', 'household=' + S.hh.id]).find(function (x) { return x.fields.notes === '入户走访，了解危房改造进度'; });
    assert.ok(v && v.fields.cadre === S.cadre.id && v.fields.kind === 'home_visit');
});

test('tablet: sync to the real server and see the plain result', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    const text = await syncInUi(page);
    assert.match(text, /已发送 \d+ 条更改，收到 \d+ 条/);
    assert.ok(!/已发送 0 条/.test(text), 'the need and its actions were sent: ' + text);
    await H.shot(page, 'tablet-sync');
    /* The server passed the need on: tablet b receives it. */
    S.b(['sync']);
    assert.strictEqual(S.b.json(['get', S.needId]).fields.description, S.needDesc);
});

test('tablet: a conflict made by a second tablet is shown, resolved, and the choice syncs', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    const hh = S.a.lines(['list', 'household'])[5];
    /* tablet a corrects the phone in the app; tablet b, offline, differently */
    await page.goto(S.uiBase + '#/hh/' + hh.id + '/edit');
    await page.waitForSelector('form[data-type=household]');
    await page.fill('input[name=phone]', '13911110001');
    await page.click('form[data-type=household] button[type=submit]');
    await page.waitForSelector('.hh-name');
    S.b(['put', 'household', '--id', hh.id], { input: '{"phone":"13922220002"}' });
    S.b(['sync']);
    const text = await syncInUi(page);
    assert.match(text, /1 个冲突/);
    await page.click('#sync-result a[href="#/conflicts"]');
    const item = page.locator('article.conflict', { hasText: '13922220002' });
    await item.waitFor();
    assert.match(await item.textContent(), /13911110001/);
    assert.match(await item.textContent(), /联系电话|phone/);
    await H.shot(page, 'tablet-conflicts');
    await item.locator('li', { hasText: '13922220002' }).locator('button').click();
    await toast(page, /已选定/);
    await page.waitForSelector('#conflicts .empty');
    await syncInUi(page);
    S.b(['sync']);
    assert.strictEqual(S.b(['conflicts']).trim(), '', 'tablet b has no conflict left');
    assert.strictEqual(S.b.json(['get', hh.id]).fields.phone, '13922220002');
    assert.strictEqual(S.a.json(['get', hh.id]).fields.phone, '13922220002');
});

/* ---- the office, on the county server ------------------------------------------------ */

test('office: a wrong password is refused; the right one signs in', async function (ctx) {
    const page = S.off = ctx.lastPage = await H.newPage();
    await page.goto(S.url + '/');
    await page.waitForSelector('#login-name');
    await H.shot(page, 'office-login');
    await page.fill('#login-name', S.offices.v1[0]);
    await page.fill('#login-pass', 'wrong-password');
    await page.click('form.login button[type=submit]');
    await page.waitForSelector('form.login .alert.bad:not([hidden])');
    assert.match(await page.textContent('form.login .alert.bad'), /账号或密码不对|过多/);
    await signIn(page, S.offices.v1);
    const me = await page.evaluate(function () { return MQ.app.me; });
    assert.strictEqual(me.host, 'office');
    assert.ok(me.csrf, 'the page holds a CSRF token');
    const cookies = await page.context().cookies();
    const c = cookies.find(function (x) { return x.name === 'mq_session'; });
    assert.ok(c && c.httpOnly && c.sameSite === 'Strict', JSON.stringify(cookies));
    assert.strictEqual(await page.evaluate(function () { return document.cookie; }), '', 'the session is not readable by scripts');
    /* reports: bars by village and cadre, the income grid in colours */
    assert.ok(await page.$$eval('.bars li', function (l) { return l.length; }) > 3);
    const colours = await page.$$eval('table.income td.lv', function (tds) {
        return tds.map(function (t) { return t.className; });
    });
    assert.ok(colours.length >= 4 && colours.every(function (c) { return /lv-(red|orange|yellow|green|blue)/.test(c); }), colours.join());
    await H.shot(page, 'office-reports');
});

test('office: filter the overdue needs of one village', async function (ctx) {
    const page = ctx.lastPage = S.off;
    S.a(['sync']);
    const want = S.a.lines(['needs', '--overdue', '--area', S.groups1[1].id, '--format', 'json']);
    assert.ok(want.length > 0, 'the data set has overdue needs there');
    await page.click('#nav a[data-path="/needs"]');
    await page.waitForSelector('#f-status');
    await page.selectOption('#f-status', 'overdue');
    await page.waitForSelector('#needs-count');
    await page.selectOption('#f-area', S.groups1[1].id);
    await page.waitForFunction(function () { return /[?&]area=/.test(location.hash) && document.getElementById('needs-count'); });
    await page.waitForSelector('table.needs-table, #needs .empty');
    const rows = await page.$$eval('table.needs-table tbody tr', function (r) {
        return r.map(function (x) { return x.textContent; });
    });
    assert.strictEqual(rows.length, want.length, 'overdue needs of ' + S.groups1[1].fields.name);
    rows.forEach(function (r) { assert.match(r, /超期/); assert.match(r, new RegExp(S.groups1[1].fields.name)); });
    await H.shot(page, 'office-needs-overdue');
});

test('office: resolve a conflict; a tablet receives the resolution on its next sync', async function (ctx) {
    const page = ctx.lastPage = S.off;
    const hh = S.a.lines(['list', 'household'])[7];
    S.a(['put', 'household', '--id', hh.id], { input: '{"address":"甲地址 1 号"}' });
    S.b(['put', 'household', '--id', hh.id], { input: '{"address":"乙地址 2 号"}' });
    S.a(['sync']);
    S.b(['sync']);
    await page.click('#nav a[data-path="/conflicts"]');
    const item = page.locator('article.conflict', { hasText: '乙地址 2 号' });
    await item.waitFor();
    await H.shot(page, 'office-conflicts');
    await item.locator('li', { hasText: '甲地址 1 号' }).locator('button').click();
    await toast(page, /已选定/);
    await page.waitForSelector('article.conflict:has-text("乙地址 2 号")', { state: 'detached' });
    S.a(['sync']);
    S.b(['sync']);
    assert.strictEqual(S.a.json(['get', hh.id]).fields.address, '甲地址 1 号');
    assert.strictEqual(S.b.json(['get', hh.id]).fields.address, '甲地址 1 号');
    const left = S.a(['conflicts']) + S.b(['conflicts']);
    assert.ok(left.indexOf(hh.id + '/address') < 0, 'no tablet lists the conflict any more: ' + left);
});

test('office: download the XLSX of the reports and open it', async function (ctx) {
    const page = ctx.lastPage = S.off;
    await page.click('#nav a[data-path="/reports"]');
    await page.waitForSelector('.tiles');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('button[data-export=xlsx]')]);
    const file = path.join(H.work, 'report.xlsx');
    await dl.saveAs(file);
    assert.match(dl.suggestedFilename(), /\.xlsx$/);
    const out = H.run(H.PYTHON, ['-c',
        'import openpyxl,sys\n' +
        'wb = openpyxl.load_workbook(sys.argv[1])\n' +
        'for ws in wb.worksheets:\n' +
        '    print(ws.title, ws.max_row, "|".join(str(c.value).strip() for c in ws["A"]))\n', file]);
    const areasSheet = out.split('\n').find(function (l) { return /^各地区/.test(l); });
    assert.ok(areasSheet, 'a sheet of the areas: ' + out);
    assert.ok(areasSheet.split('|').indexOf(S.village1.fields.name) > 0, 'the village is a row: ' + areasSheet);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('button[data-export=csv]')]);
    assert.match(csv.suggestedFilename(), /\.csv$/);
});

test('office: enrol a device (the token shown once), sync with it, revoke it', async function (ctx) {
    const page = ctx.lastPage = S.off;
    await page.click('#nav a[data-path="/devices"]');
    await page.waitForSelector('#dev-name');
    await page.fill('#dev-name', 'tablet-c');
    await page.check('#dev-areas input[value="' + S.groups1[2].id + '"]');
    await page.click('form button:has-text("登记设备")');
    await page.waitForSelector('#dev-token');
    const token = (await page.textContent('#dev-token')).trim();
    assert.ok(token.length >= 16, 'a token: ' + token);
    await page.waitForSelector('table.devices-table tr:has-text("tablet-c")');
    await H.shot(page, 'office-devices');
    const c = H.tablet('c');
    c(['init', '--site', 'tablet-c']);
    c(['sync', '--server', S.url, '--token', token]);
    assert.ok(c.lines(['list', 'household']).length > 0, 'tablet c received its group');
    /* The token is not shown again. */
    await page.reload();
    await page.waitForSelector('table.devices-table');
    assert.strictEqual(await page.$('#dev-token'), null);
    const row = page.locator('table.devices-table tr', { hasText: 'tablet-c' });
    await row.locator('button', { hasText: '停用' }).click();
    await row.locator('button', { hasText: '确认停用' }).click();
    await page.waitForSelector('table.devices-table tr.revoked:has-text("tablet-c")');
    const r = c(['sync'], { mayFail: true });
    assert.notStrictEqual(r.status, 0, 'a revoked device cannot sync');
});

test('office: another account sees none of the first one\'s areas, by page or by API', async function (ctx) {
    const page = ctx.lastPage = await H.newPage({ width: 360, height: 740 });
    await signIn(page, S.offices.v2);
    const body = await page.textContent('#main');
    const v1names = S.r1.filter(function (r) { return r.type === 'area' && r.fields.level === 'group'; })
        .map(function (r) { return r.fields.name; })
        .filter(function (n) { return !S.r2.some(function (r) { return r.type === 'area' && r.fields.name === n; }); });
    v1names.forEach(function (n) { assert.ok(body.indexOf(n) < 0, 'office-v2 sees ' + n); });
    const probe = await page.evaluate(async function (p) {
        const out = {};
        async function st(u) { return (await fetch(u)).status; }
        out.household = await st('/api/households/' + p.hh);
        out.record = await st('/api/records/' + p.hh);
        out.needs = await (await fetch('/api/needs?area=' + p.village)).status;
        out.reports = await st('/api/reports?area=' + p.village);
        const found = await (await fetch('/api/households?q=' + encodeURIComponent(p.name))).json();
        out.found = found.filter(function (x) { return x.id === p.hh; }).length;
        const put = await fetch('/api/records/' + p.hh, {
            method: 'PUT', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': MQ.api.csrf },
            body: JSON.stringify({ fields: { phone: '13700000000' } })
        });
        out.put = put.status;
        return out;
    }, { hh: S.hh.id, village: S.village1.id, name: S.hh.fields.head_name });
    assert.strictEqual(probe.household, 404);
    assert.strictEqual(probe.record, 404);
    assert.ok(probe.needs === 403 || probe.needs === 404, 'needs of another area: ' + probe.needs);
    assert.ok(probe.reports === 403 || probe.reports === 404, 'reports of another area: ' + probe.reports);
    assert.strictEqual(probe.found, 0);
    assert.ok(probe.put === 403 || probe.put === 404, 'write to another area: ' + probe.put);
    await page.goto(S.url + '/#/hh/' + S.hh.id);
    await page.waitForSelector('#main .alert.bad');
    assert.match(await page.textContent('#main .alert.bad'), /找不到，或不在您的辖区内/);
    assert.ok((await page.textContent('#main')).indexOf(S.hh.fields.head_name) < 0);
    await H.shot(page, 'office-other-account');
    /* A change without the CSRF token is refused even with the session. */
    const noCsrf = await page.evaluate(async function () {
        return (await fetch('/api/devices', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"x","areas":[]}' })).status;
    });
    assert.strictEqual(noCsrf, 403);
    /* Signing out ends the session on the server. */
    await page.click('#logout');
    await page.waitForSelector('#login-name');
    assert.strictEqual(await page.evaluate(async function () { return (await fetch('/api/me')).status; }), 401);
    await page.context().close();
});

test('tablet: with the server gone, the sync says so plainly and nothing is lost', async function (ctx) {
    const page = ctx.lastPage = S.tab;
    await H.stop('serve');
    const before = S.a(['export']);
    const text = await syncInUi(page);
    assert.match(text, /没有完成/);
    assert.match(text, /没有丢失/);
    assert.match(await page.getAttribute('#sync-result', 'class'), /bad/);
    assert.strictEqual(S.a(['export']), before, 'the store is unchanged');
    await H.shot(page, 'tablet-sync-unreachable');
});

test('no page error or script error on any screen', async function () {
    assert.deepStrictEqual(H.pageErrors, []);
});

(async function main() {
    let failed = 1;
    const ctx = {};
    try {
        failed = await H.runTests(ctx);
    } catch (e) {
        H.log('# ' + e.stack);
    } finally {
        H.log('# screenshots in ' + H.SHOTS + ': ' + H.shots.map(function (f) { return path.basename(f); }).join(' '));
        H.cleanup();
    }
    process.exit(failed ? 1 : 0);
})();

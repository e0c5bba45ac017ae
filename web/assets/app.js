/*
 * app.js - starts the page: asks the host who is asking (GET /api/me) and
 * so which host it is on, loads the schema's labels, draws the navigation
 * of the tablet or of the office, and hands each address (#/...) to the
 * screen that registered it (cadre.js, office.js).  It also keeps the names
 * of cadres and areas, so that ids are never shown to a person.
 */
'use strict';

(function (MQ) {
    var h = MQ.ui.h;
    var ui = MQ.ui;

    var TABLET_NAV = [
        ['/work', '工作清单'], ['/search', '查找农户'], ['/new/household', '登记农户'],
        ['/conflicts', '冲突'], ['/sync', '同步']
    ];
    var OFFICE_NAV = [
        ['/reports', '报表'], ['/needs', '民情台账'], ['/search', '查找农户'],
        ['/conflicts', '冲突'], ['/devices', '设备']
    ];

    var names = {};
    var refs = null;

    var app = MQ.app = {
        me: null,

        /** Empties the main area for a screen and gives it its title. */
        screen: function (title, sub) {
            var main = document.getElementById('main');
            ui.clear(main);
            document.title = title + ' · 民情';
            main.appendChild(h('h1', { class: 'screen-title', text: title }));
            if (sub) main.appendChild(h('p', { class: 'screen-sub', text: sub }));
            markNav();
            window.scrollTo(0, 0);
            return main;
        },

        /** The name of a cadre or area id, as far as the page knows it. */
        nameOf: function (id) {
            if (!id) return '';
            return names[id] || '（' + String(id).slice(0, 8) + '）';
        },

        /**
         * Learns names the API sends beside ids: a key K_name next to K
         * (area_name, by_name, handler_name, cadre_name...), walked through
         * any answer.
         */
        learnNames: function (obj) {
            var seen = 0;
            (function walk(o) {
                if (!o || typeof o !== 'object' || ++seen > 100000) return;
                if (Array.isArray(o)) { o.forEach(walk); return; }
                Object.keys(o).forEach(function (k) {
                    var v = o[k];
                    if (typeof v === 'string' && /_name$/.test(k) && v) {
                        var base = k.slice(0, -5);
                        var id = o[base] || (base === 'cadre' ? o.recorded_by || o.by : null);
                        if (typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id) && !names[id]) names[id] = v;
                    } else if (v && typeof v === 'object') {
                        walk(v);
                    }
                });
            })(obj);
        },

        /* Cadres and areas of the who's scope, from the report (its lists
         * carry every cadre and area with records in the scope). */
        loadRefs: function () {
            if (!refs) {
                /* A report is of one area: with several, one report each. */
                var tops = app.me.areas || [];
                var asks = tops.length > 1 ? tops.map(function (a) { return MQ.api.get('/api/reports', { area: a.id }); }) : [MQ.api.get('/api/reports')];
                refs = Promise.all(asks).then(function (all) {
                    var r = { areas: [], cadres: [] };
                    all.forEach(function (x) {
                        r.areas = r.areas.concat(x.areas || []);
                        (x.cadres || []).forEach(function (c) { if (!r.cadres.some(function (d) { return d.id === c.id; })) r.cadres.push(c); });
                    });
                    var areas = (r.areas || []).map(function (a) { return { id: a.id, name: a.name, level: a.level, depth: a.depth || 0 }; });
                    if (!areas.length) areas = (app.me.areas || []).map(function (a) { return { id: a.id, name: a.name, level: a.level, depth: 0 }; });
                    var cadres = (r.cadres || []).map(function (c) { return { id: c.id, name: c.name }; });
                    if (app.me.cadre && !cadres.some(function (c) { return c.id === app.me.cadre.id; })) cadres.unshift(app.me.cadre);
                    areas.forEach(function (a) { names[a.id] = a.name; });
                    cadres.forEach(function (c) { names[c.id] = c.name; });
                    return { areas: areas, cadres: cadres };
                }).catch(function () {
                    refs = null;
                    return { areas: (app.me.areas || []).map(function (a) { return { id: a.id, name: a.name, level: a.level, depth: 0 }; }), cadres: app.me.cadre ? [app.me.cadre] : [] };
                });
            }
            return refs;
        },
        /* The names, waited for a moment only: a screen that shows ids
         * draws at once on a big store, with the names the API sent. */
        namesSoon: function () {
            return Promise.race([app.loadRefs(), new Promise(function (r) { setTimeout(r, 400); })]);
        },
        cadres: function () { return app.loadRefs().then(function (r) { return r.cadres; }); },
        areas: function () { return app.loadRefs().then(function (r) { return r.areas; }); },

        setConflicts: function (n) {
            var b = document.getElementById('conflict-count');
            if (!b) return;
            b.textContent = n ? String(n) : '';
            b.hidden = !n;
        },
        refreshConflicts: function () {
            MQ.api.get('/api/conflicts').then(function (rows) { app.setConflicts(rows.length); }, function () {});
        },

        /** After /api/me answered: the schema, the navigation, the screen. */
        start: async function () {
            var me = await MQ.api.get('/api/me');
            app.me = me;
            if (me.csrf) MQ.api.csrf = me.csrf;
            names = {};
            refs = null;
            (me.areas || []).forEach(function (a) { names[a.id] = a.name; });
            if (me.cadre) names[me.cadre.id] = me.cadre.name;
            MQ.label.schema = await MQ.api.get('/api/schema');
            drawHeader();
            app.refreshConflicts();
            return me;
        }
    };

    function drawHeader() {
        var me = app.me;
        var office = me.host === 'office';
        var nav = document.getElementById('nav');
        ui.clear(nav);
        (office ? OFFICE_NAV : TABLET_NAV).forEach(function (n) {
            var a = h('a', { href: '#' + n[0], dataset: { path: n[0] } }, n[1]);
            if (n[0] === '/conflicts') a.appendChild(h('span', { class: 'nav-count', id: 'conflict-count', hidden: true }));
            nav.appendChild(a);
        });
        var who = document.getElementById('who');
        ui.clear(who);
        who.appendChild(h('span', { class: 'host', text: office ? '办公室' : '平板 · 本机数据' }));
        who.appendChild(h('span', { class: 'me', text: me.cadre ? me.cadre.name : me.name }));
        if (office) {
            who.appendChild(h('button', {
                type: 'button', class: 'btn small ghost', id: 'logout', text: '退出',
                onclick: async function () {
                    try { await MQ.api.del('/api/session'); } catch (e) { /* signed out anyway */ }
                    MQ.api.csrf = null;
                    app.me = null;
                    ui.clear(nav);
                    ui.clear(who);
                    window.location.hash = '#/';
                    app.loginScreen();
                }
            }));
        }
        markNav();
    }

    function markNav() {
        var path = ui.current().path;
        document.querySelectorAll('#nav a').forEach(function (a) {
            var p = a.dataset.path;
            var on = path === p || (p !== '/' && path.indexOf(p + '/') === 0) ||
                (p === '/search' && path.indexOf('/hh/') === 0);
            if (on) a.setAttribute('aria-current', 'page');
            else a.removeAttribute('aria-current');
        });
    }

    ui.route('/', function () {
        ui.go(app.me && app.me.host === 'office' ? '/reports' : '/work');
    });

    function route() {
        if (!app.me) return;
        var r = ui.dispatch();
        if (r === null) {
            app.screen('没有这个页面').appendChild(h('p', {}, h('a', { href: '#/', text: '回到首页' })));
        }
    }

    async function boot() {
        window.addEventListener('hashchange', route);
        MQ.api.onUnauthorized = function () {
            if (app.me && app.me.host === 'office') {
                app.me = null;
                app.loginScreen('登录已过期，请重新登录。');
            }
        };
        try {
            await app.start();
        } catch (e) {
            /* The tablet's host names its secret when it refuses; the office's asks for a sign-in. */
            if (e.status === 401 && !MQ.api.secret() && !/secret/i.test(e.message || '')) {
                app.loginScreen('平板上请用 minqing ui 显示的地址打开。');
                return;
            }
            var main = app.screen('无法打开');
            main.appendChild(ui.failure(e));
            if (e.status === 401 || e.status === 403) {
                main.appendChild(h('p', { class: 'sub', text: '本机密钥已失效：请关闭此页，重新打开 minqing ui 显示的地址。' }));
            }
            return;
        }
        route();
    }

    document.addEventListener('DOMContentLoaded', boot);
})(window.MQ);

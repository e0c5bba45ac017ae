/*
 * office.js - the township and county office's screens on
 * `minqing-server serve`: the sign-in, the reports (docs/REPORTS.md) as
 * tables and bars, the needs list with its filters (also on the tablet),
 * the income warning grid in the schema's colours, the enrolled devices,
 * and the export of every table as CSV or XLSX.
 */
'use strict';

(function (MQ) {
    var h = MQ.ui.h;
    var L = MQ.label;
    var ui = MQ.ui;
    var app = MQ.app;

    /* ---- sign in ---------------------------------------------------------------- */

    app.loginScreen = function (note) {
        var main = app.screen('办公室登录', '乡镇、县办公室的账号');
        var err = h('div', { class: 'alert bad', role: 'alert', hidden: true });
        var name = h('input', { id: 'login-name', name: 'name', autocomplete: 'username', required: true });
        var pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
        var btn = h('button', { type: 'submit', class: 'btn primary', text: '登录' });
        var form = h('form', { class: 'form login', novalidate: true },
            err,
            h('div', { class: 'field' }, h('label', { class: 'label', for: 'login-name', text: '账号' }), name),
            h('div', { class: 'field' }, h('label', { class: 'label', for: 'login-pass', text: '密码' }), pass),
            h('div', { class: 'actions' }, btn));
        form.addEventListener('submit', async function (e) {
            e.preventDefault();
            err.hidden = true;
            if (!name.value.trim() || !pass.value) {
                err.textContent = '请填写账号和密码';
                err.hidden = false;
                return;
            }
            btn.disabled = true;
            try {
                var res = await MQ.api.post('/api/session', { name: name.value.trim(), password: pass.value });
                MQ.api.csrf = res.csrf;
                await app.start();
                ui.go('/reports');
            } catch (ex) {
                err.textContent = ex.status === 401 ? '账号或密码不对' : ex.status === 429 ? '失败次数过多，请稍后再试' : ex.message;
                err.hidden = false;
            } finally {
                btn.disabled = false;
            }
        });
        main.appendChild(form);
        if (note) main.appendChild(h('p', { class: 'sub', text: note }));
        name.focus();
    };

    /* ---- shared pieces ----------------------------------------------------------- */

    function exportButtons(path, params, base) {
        return h('div', { class: 'export' },
            ['csv', 'xlsx'].map(function (fmt) {
                return h('button', {
                    type: 'button', class: 'btn small', dataset: { export: fmt },
                    text: '导出 ' + fmt.toUpperCase(),
                    onclick: async function () {
                        try {
                            var q = Object.assign({}, params, { format: fmt });
                            await MQ.api.download(path, q, base + '.' + fmt);
                        } catch (e) {
                            ui.toast(e.message, true);
                        }
                    }
                });
            }));
    }

    function table(cols, rows, cls) {
        return h('div', { class: 'table-wrap' }, h('table', { class: cls || '' },
            h('thead', {}, h('tr', {}, cols.map(function (c) { return h('th', { scope: 'col', class: c.num ? 'num' : '', text: c.label }); }))),
            h('tbody', {}, rows.map(function (r) {
                return h('tr', { class: r._class || '' }, cols.map(function (c, i) {
                    var v = c.get(r);
                    var cell = h(i === 0 ? 'th' : 'td', { class: c.num ? 'num' : '' });
                    if (i === 0) cell.setAttribute('scope', 'row');
                    if (v instanceof Node) cell.appendChild(v);
                    else cell.textContent = v === null || v === undefined ? '—' : String(v);
                    if (c.indent && r.depth) cell.style.paddingLeft = (0.5 + r.depth * 1) + 'em';
                    return cell;
                }));
            }))));
    }

    /** Horizontal bars of a rate (0..1) per row, drawn with plain elements. */
    function bars(rows, label, value, extra) {
        return h('ul', { class: 'bars' }, rows.map(function (r) {
            var v = value(r);
            var fill = h('span', { class: 'bar-fill' + (v === null ? ' none' : v >= 0.8 ? ' good' : v >= 0.5 ? ' mid' : ' low') });
            fill.style.width = v === null ? '0' : Math.min(100, Math.round(v * 100)) + '%';
            return h('li', {},
                h('span', { class: 'bar-label', text: label(r) }),
                h('span', { class: 'bar-track', role: 'img', 'aria-label': label(r) + ' ' + ui.pct(v) }, fill),
                h('span', { class: 'bar-value', text: ui.pct(v) + (extra ? ' ' + extra(r) : '') }));
        }));
    }

    /* ---- reports --------------------------------------------------------------- */

    ui.route('/reports', async function (p, q) {
        var main = app.screen('报表', '民情办理、信访、走访谈话与村集体收入预警');
        var areas = await app.areas();
        var asOf = h('input', { type: 'date', id: 'as-of', value: q.as_of || app.me.today });
        var area = h('select', { id: 'report-area' }, (app.me.areas || []).length > 1 ? null : h('option', { value: '', text: '全部辖区' }),
            areas.map(function (a) { return h('option', { value: a.id, text: '\u3000'.repeat(a.depth || 0) + a.name, selected: a.id === q.area }); }));
        var filters = h('form', { class: 'filters' },
            h('label', {}, '截至', asOf), h('label', {}, '地区', area),
            h('button', { type: 'submit', class: 'btn', text: '查看' }));
        filters.addEventListener('submit', function (e) {
            e.preventDefault();
            ui.go('/reports' + MQ.api.query({ as_of: asOf.value, area: area.value }));
        });
        main.appendChild(filters);
        var body = h('div', {}, h('p', { class: 'loading', text: '正在计算…' }));
        main.appendChild(body);
        /* A report is of one area: an account of several starts with its first. */
        var tops = app.me.areas || [];
        var params = { as_of: q.as_of || '', area: q.area || (tops.length > 1 ? tops[0].id : '') };
        if (params.area) area.value = params.area;
        var r;
        try {
            r = await MQ.api.get('/api/reports', params);
        } catch (e) {
            ui.clear(body).appendChild(ui.failure(e));
            return;
        }
        ui.clear(body);
        var t = r.total || {};
        var tn = t.needs || {};
        body.appendChild(h('div', { class: 'tiles' },
            tile('户数', t.households), tile('登记诉求', tn.registered), tile('在办', tn.open),
            tile('超期', tn.overdue, 'late'), tile('办结率', ui.pct(tn.completion_rate)),
            tile('协调金额', (tn.yuan || 0) + ' 元')));
        body.appendChild(exportButtons('/api/reports/export', params, '报表-' + r.as_of));

        var rated = (r.areas || []).filter(function (a) { return a.level === 'village' || a.level === 'group'; });
        body.appendChild(section('各村（组）办结率', bars(rated,
            function (a) { return (a.level === 'group' ? '\u3000' : '') + a.name; },
            function (a) { return a.needs ? a.needs.completion_rate : null; },
            function (a) { return '(' + ((a.needs && a.needs.resolved) || 0) + '/' + ((a.needs && a.needs.accepted) || 0) + ')'; })));
        body.appendChild(section('各干部办结率', bars(r.cadres || [],
            function (c) { return c.name; },
            function (c) { return c.needs ? c.needs.completion_rate : null; },
            function (c) { return '(' + ((c.needs && c.needs.resolved) || 0) + '/' + ((c.needs && c.needs.accepted) || 0) + ')'; })));

        var n = function (k) { return function (x) { return x.needs ? x.needs[k] : null; }; };
        body.appendChild(section('各地区民情办理', table([
            { label: '地区', get: function (a) { return a.name; }, indent: true },
            { label: '户数', get: function (a) { return a.households; }, num: true },
            { label: '登记', get: n('registered'), num: true },
            { label: '受理', get: n('accepted'), num: true },
            { label: '办结', get: n('resolved'), num: true },
            { label: '在办', get: n('open'), num: true },
            { label: '超期', get: n('overdue'), num: true },
            { label: '办结率', get: function (a) { return ui.pct(a.needs && a.needs.completion_rate); }, num: true },
            { label: '金额(元)', get: n('yuan'), num: true }
        ], r.areas || [], 'report-areas')));

        body.appendChild(section('村集体收入预警', incomeGrid(r.income || [])));

        var pe = function (k) { return function (x) { return x.petitions ? x.petitions[k] : null; }; };
        body.appendChild(section('信访', table([
            { label: '地区', get: function (a) { return a.name; }, indent: true },
            { label: '信访登记', get: pe('received'), num: true },
            { label: '受理', get: pe('accepted'), num: true },
            { label: '办结', get: pe('closed'), num: true },
            { label: '办结率', get: function (a) { return ui.pct(a.petitions && a.petitions.rate); }, num: true },
            { label: '接待来访(人次)', get: pe('receptions'), num: true }
        ], r.areas || [])));

        var vi = function (k) { return function (x) { return x.visits ? x.visits[k] : null; }; };
        body.appendChild(section('各干部走访与谈话', table([
            { label: '干部', get: function (c) { return c.name; } },
            { label: '联系户', get: function (c) { return c.households; }, num: true },
            { label: '走访', get: vi('home_visit'), num: true },
            { label: '谈心谈话', get: vi('talk'), num: true },
            { label: '信访接待', get: vi('petition_reception'), num: true },
            { label: '干部谈话', get: function (c) { return c.talks ? c.talks.total : null; }, num: true },
            { label: '在办', get: function (c) { return c.handling; }, num: true },
            { label: '满意', get: function (c) { return c.needs && c.needs.satisfaction ? c.needs.satisfaction.satisfied : null; }, num: true }
        ], r.cadres || [], 'report-cadres')));
    });

    function tile(label, value, cls) {
        return h('div', { class: 'tile ' + (cls || '') }, h('div', { class: 'tile-value', text: value === undefined || value === null ? '—' : String(value) }), h('div', { class: 'tile-label', text: label }));
    }

    function section(title, kids) {
        return h('section', { class: 'card-section' }, h('h3', { text: title }), kids);
    }

    /* Villages by period, each cell in its warning level's colour. */
    function incomeGrid(rows) {
        if (!rows.length) return h('p', { class: 'empty', text: '没有村集体收入记录。' });
        var periods = [], villages = [], byKey = {};
        rows.forEach(function (x) {
            if (periods.indexOf(x.period) < 0) periods.push(x.period);
            if (!villages.some(function (v) { return v.area === x.area; })) villages.push({ area: x.area, name: x.name });
            byKey[x.area + '|' + x.period] = x;
        });
        periods.sort();
        /* The schema's levels when it sends them (a county may change them);
         * else the five of the default schema, coloured by app.css. */
        var levels = (L.schema && (L.schema.income_levels || (L.schema.reports && L.schema.reports.income_levels))) ||
            [{ level: 'red', below: 0.4 }, { level: 'orange', below: 0.6 }, { level: 'yellow', below: 0.8 }, { level: 'green', below: 1 }, { level: 'blue' }];
        var levelLabel = function (lv) {
            var rl = L.reportLabels().income_level;
            return (rl && rl[lv]) || { red: '红', orange: '橙', yellow: '黄', green: '绿', blue: '蓝' }[lv] || lv;
        };
        var colourOf = {};
        levels.forEach(function (lv) { colourOf[lv.level] = lv.color; });
        var grid = h('table', { class: 'income' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: '村' }), periods.map(function (p) { return h('th', { scope: 'col', text: periodText(p) }); }))),
            h('tbody', {}, villages.map(function (v) {
                return h('tr', {}, h('th', { scope: 'row', text: v.name }), periods.map(function (p) {
                    var x = byKey[v.area + '|' + p];
                    if (!x) return h('td', { class: 'lv-none', text: '—' });
                    var td = h('td', { class: 'lv lv-' + (x.level || 'none'), title: (x.channels || '') + (x.measures ? '；措施：' + x.measures : '') },
                        h('span', { class: 'lv-name', text: x.level ? levelLabel(x.level) : '—' }),
                        h('span', { class: 'lv-ratio', text: ui.pct(x.ratio) }),
                        h('span', { class: 'lv-amount', text: (x.income_yuan === null || x.income_yuan === undefined ? '—' : x.income_yuan) + '/' + (x.target_yuan === null || x.target_yuan === undefined ? '—' : x.target_yuan) }));
                    if (x.level && colourOf[x.level]) td.style.backgroundColor = colourOf[x.level];
                    return td;
                }));
            })));
        var legend = h('p', { class: 'legend' }, levels.map(function (lv, i) {
            var sw = h('span', { class: 'swatch lv-' + lv.level });
            if (lv.color) sw.style.backgroundColor = lv.color;
            var prev = i > 0 ? levels[i - 1].below : null;
            var range = lv.below !== undefined ? (prev !== null ? ui.pct(prev) + '–' : '低于 ') + ui.pct(lv.below) : (prev !== null ? '达到 ' + ui.pct(prev) : '');
            return h('span', { class: 'legend-item' }, sw, levelLabel(lv.level) + ' ' + range);
        }));
        return h('div', {}, h('div', { class: 'table-wrap' }, grid), legend);
    }

    function periodText(p) {
        var m = /^(\d{4})Q([1-4])$/.exec(p);
        if (m) return m[1] + '年' + '一二三四'[+m[2] - 1] + '季度';
        m = /^(\d{4})-(\d{2})$/.exec(p);
        if (m) return m[1] + '年' + (+m[2]) + '月';
        return p;
    }

    /* ---- needs list with filters (both hosts) ----------------------------------- */

    ui.route('/needs', async function (p, q) {
        var main = app.screen('民情台账', '按状态、地区、干部、类别和来源筛选');
        var areas = await app.areas();
        var cadres = await app.cadres();
        function sel(id, label, first, opts, cur) {
            return h('label', {}, label, h('select', { id: id, name: id },
                h('option', { value: '', text: first }),
                opts.map(function (o) { return h('option', { value: o.value, text: o.label, selected: o.value === cur }); })));
        }
        var status = sel('f-status', '状态', '全部', [
            { value: 'overdue', label: '超期' }, { value: 'open', label: '在办' }, { value: 'resolved', label: '已办结' }], q.status);
        var area = sel('f-area', '地区', '全部', areas.map(function (a) { return { value: a.id, label: '\u3000'.repeat(a.depth || 0) + a.name }; }), q.area);
        var cadre = sel('f-cadre', '干部', '全部', cadres.map(function (c) { return { value: c.id, label: c.name }; }), q.cadre);
        var cat = sel('f-category', L.field('need', 'category'), '全部', L.choices('need', 'category').map(function (v) { return { value: v, label: L.value('need', 'category', v) }; }), q.category);
        var src = sel('f-source', L.field('need', 'source'), '全部', L.choices('need', 'source').map(function (v) { return { value: v, label: L.value('need', 'source', v) }; }), q.source);
        var form = h('form', { class: 'filters' }, status, area, cadre, cat, src, h('button', { type: 'submit', class: 'btn', text: '筛选' }));
        function params() {
            var out = {};
            [['status', status], ['area', area], ['cadre', cadre], ['category', cat], ['source', src]].forEach(function (x) {
                var v = x[1].querySelector('select').value;
                if (v) out[x[0]] = v;
            });
            return out;
        }
        form.addEventListener('submit', function (e) { e.preventDefault(); ui.go('/needs' + MQ.api.query(params())); });
        form.querySelectorAll('select').forEach(function (s) { s.addEventListener('change', function () { ui.go('/needs' + MQ.api.query(params())); }); });
        main.appendChild(form);
        var body = h('div', { id: 'needs' }, h('p', { class: 'loading', text: '正在加载…' }));
        main.appendChild(body);
        var pq = params();
        pq.limit = 500;
        try {
            var rows = await MQ.api.get('/api/needs', pq);
            app.learnNames(rows);
            ui.clear(body);
            var exp = Object.assign({}, pq);
            delete exp.limit;
            body.appendChild(h('div', { class: 'toolbar' }, h('span', { class: 'count-line', id: 'needs-count', text: '共 ' + rows.length + ' 件' }),
                exportButtons('/api/needs/export', exp, '民情台账')));
            if (!rows.length) { body.appendChild(h('p', { class: 'empty', text: '没有符合条件的诉求。' })); return; }
            body.appendChild(table([
                { label: '户主', get: function (x) { return x.household ? h('a', { href: '#/hh/' + x.household, text: x.head_name || '—' }) : (x.head_name || '—'); } },
                { label: '地区', get: function (x) { return x.area_name || x.village_name || app.nameOf(x.area); } },
                { label: '类别', get: function (x) { return L.value('need', 'category', x.category); } },
                { label: '来源', get: function (x) { return L.value('need', 'source', x.source); } },
                { label: '首问干部', get: function (x) { return x.cadre_name || app.nameOf(x.recorded_by); } },
                { label: '登记', get: function (x) { return x.recorded_at; } },
                { label: '期限', get: function (x) { return x.deadline; } },
                { label: '状态', get: function (x) { return statusText(x); } }
            ], rows.map(function (x) { x._class = x.overdue || (x.days_left < 0 && x.status !== 'resolved') ? 'late' : ''; return x; }), 'needs-table'));
        } catch (e) {
            ui.clear(body).appendChild(ui.failure(e));
        }
    });

    function statusText(x) {
        var late = x.overdue || (x.status !== 'resolved' && x.days_left !== undefined && x.days_left !== null && x.days_left < 0);
        var s = L.status(x.status);
        if (x.status === 'overdue') {
            var n = x.days_left !== undefined && x.days_left !== null ? -x.days_left : x.days_overdue;
            return s + (n ? ' ' + n + ' 天' : '');
        }
        if (late) {
            var d = x.days_left !== undefined && x.days_left !== null ? -x.days_left : null;
            return s + '·超期' + (d !== null ? d + '天' : '');
        }
        return s;
    }

    /* A moment as "YYYY-MM-DD HH:MM" in the browser's time: ms or ISO text. */
    function whenText(t) {
        if (t === null || t === undefined || t === 0 || t === '') return '从未';
        var d = typeof t === 'number' ? new Date(t) : new Date(String(t));
        if (isNaN(d.getTime())) return String(t);
        var p = function (n) { return (n < 10 ? '0' : '') + n; };
        return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes());
    }

    /* ---- devices (office) ----------------------------------------------------------- */

    ui.route('/devices', async function () {
        var main = app.screen('设备', '登记的平板：最近同步、范围；登记新设备或停用');
        var areas = await app.areas();
        var cadres = await app.cadres();
        var tokenBox = h('div', { id: 'token-box', hidden: true });
        var name = h('input', { id: 'dev-name', name: 'name', autocomplete: 'off', placeholder: '如 tablet-zhonghe-1' });
        var cadre = h('select', { id: 'dev-cadre', name: 'cadre' }, h('option', { value: '', text: '（不指定）' }),
            cadres.map(function (c) { return h('option', { value: c.id, text: c.name }); }));
        var areaBoxes = h('div', { class: 'tags', id: 'dev-areas', role: 'group', 'aria-label': '范围' },
            areas.filter(function (a) { return a.level !== 'county'; }).map(function (a) {
                return h('label', { class: 'tag' }, h('input', { type: 'checkbox', value: a.id }), a.name);
            }));
        var err = h('div', { class: 'rule', id: 'dev-error', role: 'alert' });
        var form = h('form', { class: 'form', novalidate: true },
            h('div', { class: 'field' }, h('label', { class: 'label', for: 'dev-name' }, '设备名', h('span', { class: 'req', text: ' *' })), name),
            h('div', { class: 'field' }, h('span', { class: 'label' }, '范围（地区）', h('span', { class: 'req', text: ' *' })), areaBoxes),
            h('div', { class: 'field' }, h('label', { class: 'label', for: 'dev-cadre', text: '使用干部' }), cadre),
            err,
            h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary', text: '登记设备' })));
        form.addEventListener('submit', async function (e) {
            e.preventDefault();
            err.textContent = '';
            var chosen = Array.prototype.filter.call(areaBoxes.querySelectorAll('input'), function (i) { return i.checked; }).map(function (i) { return i.value; });
            var nm = name.value.trim();
            if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(nm)) { err.textContent = '设备名用字母、数字、点、横线或下划线，字母或数字开头，最多 64 个'; name.focus(); return; }
            if (!chosen.length) { err.textContent = '至少选择一个地区'; return; }
            try {
                var body = { name: nm, areas: chosen };
                if (cadre.value) body.cadre = cadre.value;
                var res = await MQ.api.post('/api/devices', body);
                ui.clear(tokenBox);
                tokenBox.hidden = false;
                tokenBox.className = 'alert warn';
                tokenBox.appendChild(h('p', {}, '设备 ', h('strong', { text: res.name }), ' 已登记。令牌只显示这一次，请现在抄到平板上：'));
                tokenBox.appendChild(h('code', { class: 'token', id: 'dev-token', text: res.token }));
                tokenBox.appendChild(h('p', { class: 'sub' }, '在平板上运行：minqing sync --server 服务器地址 --token 令牌'));
                name.value = '';
                areaBoxes.querySelectorAll('input').forEach(function (i) { i.checked = false; });
                cadre.value = '';
                loadList();
            } catch (ex) {
                err.textContent = ex.fields ? Object.keys(ex.fields).map(function (k) { return k + '：' + ex.fields[k]; }).join('；') : ex.message;
            }
        });
        var list = h('div', { id: 'devices' });
        main.appendChild(tokenBox);
        main.appendChild(section('已登记的设备', list));
        main.appendChild(section('登记新设备', form));

        async function loadList() {
            try {
                var rows = await MQ.api.get('/api/devices');
                app.learnNames(rows);
                ui.clear(list);
                if (!rows.length) { list.appendChild(h('p', { class: 'empty', text: '还没有登记设备。' })); return; }
                list.appendChild(table([
                    { label: '设备', get: function (d) { return d.name; } },
                    { label: '干部', get: function (d) { return d.cadre_name || (d.cadre ? app.nameOf(d.cadre) : '—'); } },
                    { label: '范围', get: function (d) { return (d.areas || []).map(function (a) { return typeof a === 'string' ? app.nameOf(a) : a.name; }).join('、'); } },
                    { label: '最近同步', get: function (d) { return whenText(d.last_sync || d.last_seen_ms); } },
                    { label: '发送/收取', get: function (d) { return d.pushed !== undefined || d.pulled !== undefined ? (d.pushed || 0) + ' / ' + (d.pulled || 0) : '—'; }, num: true },
                    { label: '状态', get: function (d) {
                        if (d.revoked) return h('span', { class: 'badge st-overdue', text: '已停用' });
                        return MQ.ui.confirmButton('停用', '确认停用', 'danger small', async function () {
                            try {
                                await MQ.api.post('/api/devices/' + encodeURIComponent(d.name) + '/revoke', {});
                                ui.toast('设备 ' + d.name + ' 已停用');
                                loadList();
                            } catch (e) { ui.toast(e.message, true); }
                        });
                    } }
                ], rows.map(function (d) { d._class = d.revoked ? 'revoked' : ''; return d; }), 'devices-table'));
            } catch (e) {
                ui.clear(list).appendChild(ui.failure(e));
            }
        }
        loadList();
    });
})(window.MQ);

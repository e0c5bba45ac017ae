/*
 * cadre.js - the screens a cadre works in, on the tablet and offline: the
 * work list, the search for a household, its file (一户一档) with every
 * change and who made it, the registration of households, members, needs
 * (民情登记卡), visits and talks, the contact card (民情联系卡) and its A6
 * print, the closure card (民情办结卡), transfer and reopen, the conflicts
 * (also at the office) and the sync with the county's server.
 */
'use strict';

(function (MQ) {
    var h = MQ.ui.h;
    var L = MQ.label;
    var ui = MQ.ui;
    var app = MQ.app;

    /* ---- shared pieces ----------------------------------------------------- */

    /** A value as a person reads it: choices in Chinese, ids as names. */
    function show(type, field, v) {
        if (v === null || v === undefined || v === '') return '';
        var fd = L.fieldDef(type, field);
        if (Array.isArray(v)) return v.map(function (x) { return L.value(type, field, x); }).join('、');
        if (fd && fd.kind === 'ref') return app.nameOf(v);
        if (fd && fd.kind === 'boolean') return v ? '是' : '否';
        if (typeof v === 'object') return JSON.stringify(v);
        return L.value(type, field, v);
    }

    function fieldsOf(rec) {
        return (rec && rec.fields) || rec || {};
    }

    function statusBadge(status, daysLeft) {
        var s = status;
        if (status !== 'resolved' && daysLeft !== null && daysLeft !== undefined && daysLeft < 0) s = 'overdue';
        return h('span', { class: 'badge st-' + s, text: L.status(s) });
    }

    function daysBadge(n) {
        if (n === null || n === undefined) return null;
        return h('span', { class: 'days ' + (n < 0 ? 'late' : n <= 3 ? 'soon' : ''), text: ui.daysText(n) });
    }

    function section(title, count, kids) {
        return h('section', { class: 'card-section' },
            h('h3', {}, title, count !== undefined ? h('span', { class: 'count', text: String(count) }) : null),
            kids);
    }

    function empty(text) {
        return h('p', { class: 'empty', text: text });
    }

    async function refOptions() {
        var cadres = await app.cadres();
        var areas = await app.areas();
        return {
            cadre: cadres.map(function (c) { return { value: c.id, label: c.name }; }),
            area: areas.map(function (a) { return { value: a.id, label: '\u3000'.repeat(Math.max(0, a.depth || 0)) + a.name + '（' + L.level(a.level) + '）' }; })
        };
    }

    /* ---- work list ------------------------------------------------------------ */

    ui.route('/work', async function () {
        var main = app.screen('工作清单', '我的在办民情，超期的在前');
        main.appendChild(h('div', { class: 'toolbar' },
            h('a', { class: 'btn', href: '#/search', text: '查找农户' }),
            h('a', { class: 'btn', href: '#/talk', text: '记录谈心谈话' })));
        var list = h('div', { class: 'list', id: 'worklist' }, h('p', { class: 'loading', text: '正在加载…' }));
        main.appendChild(list);
        try {
            await app.namesSoon();
            var rows = await MQ.api.get('/api/worklist');
            app.learnNames(rows);
            ui.clear(list);
            if (!rows.length) list.appendChild(empty('没有在办的民情诉求。'));
            rows.forEach(function (r) {
                list.appendChild(h('a', { class: 'row need-row' + (r.days_left < 0 ? ' late' : ''), href: '#/hh/' + r.household, dataset: { need: r.id } },
                    h('div', { class: 'row-main' },
                        h('strong', { text: r.head_name || '' }), ' ',
                        h('span', { class: 'cat', text: L.value('need', 'category', r.category) }),
                        r.handler ? h('div', { class: 'sub', text: '承办：' + (r.handler_name || app.nameOf(r.handler)) }) : null),
                    h('div', { class: 'row-side' },
                        daysBadge(r.days_left),
                        h('div', { class: 'sub', text: r.deadline ? '期限 ' + r.deadline : '' }))));
            });
        } catch (e) {
            ui.clear(list).appendChild(ui.failure(e));
        }
    });

    /* "member.name" -> 家庭成员姓名: which field of the file matched. */
    function matchedText(m) {
        var dot = m.indexOf('.');
        if (dot > 0) return L.type(m.slice(0, dot)) + L.field(m.slice(0, dot), m.slice(dot + 1));
        return L.field('household', m);
    }

    /* ---- search ------------------------------------------------------------- */

    ui.route('/search', function (p, q) {
        var main = app.screen('查找农户', '户主或成员姓名（输入开头即可）、身份证号、电话或地址');
        var input = h('input', { type: 'search', id: 'q', placeholder: '如：张、5323…、139…', autocomplete: 'off', value: q.q || '', 'aria-label': '查找农户' });
        var results = h('div', { class: 'list', id: 'results', 'aria-live': 'polite' });
        main.appendChild(h('form', { class: 'searchbar', role: 'search', onsubmit: function (e) { e.preventDefault(); run(); } },
            input, h('button', { type: 'submit', class: 'btn primary', text: '查找' })));
        main.appendChild(results);
        var timer = null, seq = 0;
        async function run() {
            var text = input.value.trim();
            window.history.replaceState(null, '', '#/search' + (text ? '?q=' + encodeURIComponent(text) : ''));
            var mine = ++seq;
            if (!text) { ui.clear(results); return; }
            try {
                var rows = await MQ.api.get('/api/households', { q: text, limit: 50 });
                if (mine !== seq) return;
                ui.clear(results);
                if (!rows.length) results.appendChild(empty('没有找到“' + text + '”。'));
                rows.forEach(function (r) {
                    results.appendChild(h('a', { class: 'row hh-row', href: '#/hh/' + r.id },
                        h('div', { class: 'row-main' },
                            h('strong', { text: r.head_name }),
                            r.matched && r.matched !== 'head_name' ? h('span', { class: 'sub', text: '（' + matchedText(r.matched) + '相符）' }) : null,
                            h('div', { class: 'sub', text: [r.area_name, r.address].filter(Boolean).join(' · ') })),
                        h('div', { class: 'row-side sub' }, r.phone || '')));
                });
            } catch (e) {
                if (mine === seq) ui.clear(results).appendChild(ui.failure(e));
            }
        }
        input.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(run, 250); });
        input.focus();
        if (q.q) run();
    });

    /* ---- the household's file (一户一档) ---------------------------------------- */

    function needCard(n, hid, reload) {
        var f = fieldsOf(n);
        var status = n.status || 'registered';
        var actions = (Array.isArray(n.actions) ? n.actions : n.actions_list || []).map(fieldsOf);
        var resolved = status === 'resolved';
        var buttons = h('div', { class: 'actions' });
        if (!resolved) {
            buttons.appendChild(h('button', { type: 'button', class: 'btn primary', text: '办结', onclick: function () { closeNeed(n, reload); } }));
            buttons.appendChild(h('button', { type: 'button', class: 'btn', text: '转办', onclick: function () { transferNeed(n, reload); } }));
        } else {
            buttons.appendChild(h('button', { type: 'button', class: 'btn', text: '重新办理', onclick: function () { reopenNeed(n, reload); } }));
        }
        var acts = actions.length ? h('details', { class: 'acts' },
            h('summary', { text: '办理经过（' + actions.length + '）' }),
            h('ol', {}, actions.map(function (a) {
                return h('li', {},
                    h('span', { class: 'when', text: a.at || '' }), ' ',
                    h('strong', { text: L.value('need_action', 'action', a.action) }), ' ',
                    a.by ? app.nameOf(a.by) : '',
                    a.to ? ' → ' + app.nameOf(a.to) : '',
                    a.satisfaction ? ' · ' + L.value('need_action', 'satisfaction', a.satisfaction) : '',
                    a.amount_yuan !== undefined && a.amount_yuan !== null ? ' · ' + a.amount_yuan + ' 元' : '',
                    a.note ? h('div', { class: 'sub', text: a.note }) : null);
            }))) : null;
        return h('article', { class: 'need ' + (resolved ? 'closed' : 'open'), dataset: { need: n.id, status: status } },
            h('header', {},
                h('strong', { class: 'cat', text: L.value('need', 'category', f.category) }),
                statusBadge(status, resolved ? null : n.days_left),
                resolved ? null : daysBadge(n.days_left)),
            h('p', { class: 'desc', text: f.description || '' }),
            h('dl', { class: 'facts' },
                f.source ? [h('dt', { text: L.field('need', 'source') }), h('dd', { text: L.value('need', 'source', f.source) })] : null,
                f.recorded_at ? [h('dt', { text: L.field('need', 'recorded_at') }), h('dd', { text: f.recorded_at })] : null,
                [h('dt', { text: L.field('need', 'deadline') }), h('dd', { class: 'deadline', text: n.deadline || f.deadline || '无' })],
                f.recorded_by ? [h('dt', { text: '首问责任人' }), h('dd', { text: app.nameOf(f.recorded_by) })] : null),
            acts, buttons);
    }

    function historyList(rows) {
        if (!rows.length) return empty('没有变更记录。');
        return h('ol', { class: 'history' }, rows.map(function (c) {
            var set = c.set || {};
            /* the household and need a change belongs to are the file's own */
            var keys = Object.keys(set).filter(function (k) {
                var fd = L.fieldDef(c.type, k);
                return !(fd && fd.kind === 'ref' && (fd.to === 'household' || fd.to === 'need'));
            });
            return h('li', {},
                h('div', { class: 'when' }, ui.dayOf(c.at), ' · ', h('strong', { text: c.by_name || (c.by ? app.nameOf(c.by) : '（未署名）') }),
                    ' · ', L.type(c.type)),
                h('div', { class: 'sub' }, keys.slice(0, 8).map(function (k) {
                    return h('span', { class: 'kv' }, L.field(c.type, k) + '：' + (set[k] === null ? '（清空）' : show(c.type, k, set[k])));
                }), keys.length > 8 ? '…' : ''));
        }));
    }

    ui.route('/hh/:id', async function (p) {
        var main = app.screen('农户档案', '一户一档');
        var loading = main.appendChild(h('p', { class: 'loading', text: '正在加载…' }));
        var file;
        try {
            await app.namesSoon();
            file = await MQ.api.get('/api/households/' + encodeURIComponent(p.id));
        } catch (e) {
            loading.replaceWith(ui.failure(e));
            return;
        }
        app.learnNames(file);
        var reload = function () { ui.dispatch(); };
        var hh = fieldsOf(file.household);
        ui.clear(main);
        var title = h('h2', { class: 'hh-name', text: hh.head_name || '' });
        main.appendChild(h('div', { class: 'hh-head' },
            title,
            h('p', { class: 'sub' }, [hh.address, hh.phone ? '电话 ' + hh.phone : null, app.nameOf(hh.area)].filter(Boolean).join(' · ')),
            h('p', { class: 'sub' }, hh.head_id_number ? L.field('household', 'head_id_number') + ' ' + hh.head_id_number : ''),
            hh.tags && hh.tags.length ? h('p', { class: 'chips' }, hh.tags.map(function (t) { return h('span', { class: 'chip', text: L.value('household', 'tags', t) }); })) : null,
            h('dl', { class: 'facts' },
                ['size', 'labor', 'income_per_capita_yuan', 'paired_cadre'].map(function (k) {
                    return hh[k] !== undefined && hh[k] !== null ? [h('dt', { text: L.field('household', k) }), h('dd', { text: show('household', k, hh[k]) })] : null;
                }))));
        main.appendChild(h('div', { class: 'toolbar' },
            h('a', { class: 'btn primary', href: '#/hh/' + p.id + '/need', text: '登记诉求' }),
            h('a', { class: 'btn', href: '#/hh/' + p.id + '/visit', text: '记录走访' }),
            h('button', { type: 'button', class: 'btn', text: '发联系卡', onclick: function () { issueCard(p.id, hh); } }),
            h('a', { class: 'btn', href: '#/hh/' + p.id + '/member', text: '添加成员' }),
            h('a', { class: 'btn', href: '#/hh/' + p.id + '/edit', text: '修改户信息' })));

        var needs = (file.needs || []).slice();
        var open = needs.filter(function (n) { return n.status !== 'resolved'; });
        var closed = needs.filter(function (n) { return n.status === 'resolved'; });
        open.sort(function (a, b) { return (a.days_left === null ? 1e9 : a.days_left) - (b.days_left === null ? 1e9 : b.days_left); });
        main.appendChild(section('在办诉求', open.length, open.length ? open.map(function (n) { return needCard(n, p.id, reload); }) : empty('没有在办诉求。')));
        main.appendChild(section('已办结诉求', closed.length, closed.length ? h('details', {}, h('summary', { text: '显示已办结的 ' + closed.length + ' 件' }),
            closed.map(function (n) { return needCard(n, p.id, reload); })) : empty('没有已办结诉求。')));

        var members = file.members || [];
        main.appendChild(section('家庭成员', members.length, members.length ? h('ul', { class: 'members' }, members.map(function (m) {
            var f = fieldsOf(m);
            return h('li', {},
                h('div', { class: 'row-main' },
                    h('strong', { text: f.name || '' }), ' ',
                    h('span', { class: 'sub', text: [show('member', 'relation', f.relation), show('member', 'sex', f.sex), f.birth_date, show('member', 'health', f.health), show('member', 'occupation', f.occupation)].filter(Boolean).join(' · ') })),
                h('a', { class: 'btn small', href: '#/member/' + m.id + '/edit?hh=' + p.id, text: '修改' }));
        })) : empty('没有登记成员。')));

        var visits = file.visits || [];
        main.appendChild(section('走访与接待', visits.length, visits.length ? h('ul', { class: 'log' }, visits.map(function (v) {
            var f = fieldsOf(v);
            return h('li', {}, h('span', { class: 'when', text: f.at || '' }), ' ', h('strong', { text: show('visit', 'kind', f.kind) }), ' ',
                app.nameOf(f.cadre), f.notes ? h('div', { class: 'sub', text: f.notes }) : null);
        })) : empty('没有走访记录。')));

        var talks = file.talks || [];
        if (talks.length) {
            main.appendChild(section('谈心谈话', talks.length, h('ul', { class: 'log' }, talks.map(function (v) {
                var f = fieldsOf(v);
                var other = f.with_name || (f.with_cadre ? app.nameOf(f.with_cadre) : '');
                return h('li', {}, h('span', { class: 'when', text: f.at || '' }), ' ', app.nameOf(f.cadre), other ? ' → ' + other : '',
                    f.notes ? h('div', { class: 'sub', text: f.notes }) : null);
            }))));
        }

        var cards = file.contact_cards || [];
        main.appendChild(section('民情联系卡', cards.length, cards.length ? h('ul', { class: 'log' }, cards.map(function (c) {
            var f = fieldsOf(c);
            return h('li', {}, h('span', { class: 'when', text: f.issued_at || '' }), ' ', app.nameOf(f.cadre), ' ',
                h('a', { class: 'btn small', href: '#/card/' + c.id + '?hh=' + p.id, text: '查看与打印' }));
        })) : empty('还没有发放联系卡。')));

        var history = (file.history || []).slice().reverse();
        main.appendChild(section('变更记录', history.length, h('details', { class: 'history-box' },
            h('summary', { text: '谁在哪天改了什么（首问责任）' }), historyList(history))));
    });

    /* ---- need actions: closure card, transfer, reopen ------------------------ */

    function actionForm(title, type, only, opts, send, done) {
        var s = ui.sheet(title);
        var form = MQ.forms.build(type, {
            only: only, refs: opts.refs, values: opts.values || {}, submit: opts.submit,
            onCancel: s.close,
            onSubmit: async function (fields) {
                await send(fields);
                s.close();
                ui.toast(opts.ok || '已保存');
                done();
            }
        });
        if (opts.intro) s.body.appendChild(h('p', { class: 'sub', text: opts.intro }));
        s.body.appendChild(form.node);
        var first = s.body.querySelector('input,select,textarea');
        if (first) first.focus();
        return form;
    }

    function needTitle(n) {
        var f = fieldsOf(n);
        return L.value('need', 'category', f.category) + '：' + (f.description || '');
    }

    /* At the office an act names the cadre who does it ("by"); on the
     * tablet it is the tablet's cadre. */
    async function actFields(list) {
        if (app.me.host !== 'office') return { only: list, refs: {} };
        var refs = await refOptions();
        return { only: ['by'].concat(list), refs: { by: refs.cadre, to: refs.cadre } };
    }

    async function closeNeed(n, done) {
        var a = await actFields(['note', 'amount_yuan', 'satisfaction']);
        var form = actionForm('民情办结卡', 'need_action', a.only,
            { submit: '办结', ok: '已办结', intro: needTitle(n), refs: a.refs },
            function (f) { return MQ.api.post('/api/needs/' + n.id + '/close', f); }, done);
        form.node.classList.add('closure');
    }

    async function transferNeed(n, done) {
        var refs = await refOptions();
        var a = await actFields(['to', 'note']);
        actionForm('转办', 'need_action', a.only,
            { submit: '转办', ok: '已转办', intro: needTitle(n), refs: Object.assign({ to: refs.cadre }, a.refs) },
            function (f) {
                if (!f.to) {
                    var e = new MQ.ApiError(400, 'invalid', '请选择接办干部', { to: '必填' });
                    return Promise.reject(e);
                }
                return MQ.api.post('/api/needs/' + n.id + '/transfer', f);
            }, done);
    }

    async function reopenNeed(n, done) {
        var a = await actFields(['note']);
        actionForm('重新办理', 'need_action', a.only, { submit: '重新办理', ok: '已重新办理', intro: needTitle(n), refs: a.refs },
            function (f) { return MQ.api.post('/api/needs/' + n.id + '/reopen', f); }, done);
    }

    /* ---- registration forms ----------------------------------------------- */

    async function recordForm(title, sub, type, opts) {
        var main = app.screen(title, sub);
        var refs = await refOptions();
        var refMap = {};
        var defs = (L.schema.types[type] || {}).fields || {};
        Object.keys(defs).forEach(function (f) {
            if (defs[f].kind === 'ref' && refs[defs[f].to]) refMap[f] = refs[defs[f].to];
        });
        var values = opts.values || {};
        var form = MQ.forms.build(type, {
            values: values, edit: !!opts.id, hide: opts.hide || [], order: opts.order, refs: refMap,
            submit: opts.submit || '保存', fixed: opts.fixed, omitUntouched: opts.omitUntouched,
            onInput: opts.onInput, extra: opts.extra,
            onCancel: function () { window.history.back(); },
            onSubmit: async function (fields) {
                var res;
                if (opts.id) {
                    if (!Object.keys(fields).length) { ui.toast('没有改动'); return; }
                    res = await MQ.api.put('/api/records/' + opts.id, { fields: fields });
                } else {
                    res = await MQ.api.post('/api/records/' + type, { fields: fields });
                    if (opts.afterCreate) await opts.afterCreate(res.id);
                }
                ui.toast('已保存');
                opts.done(res && res.id);
            }
        });
        main.appendChild(form.node);
        if (opts.after) opts.after(form);
        return form;
    }

    ui.route('/new/household', function () {
        recordForm('登记农户', '带 * 的必填；身份证号会核对校验位', 'household', {
            submit: '登记', done: function (id) { ui.go('/hh/' + id); }
        });
    });

    async function loadRecord(id) {
        var r = await MQ.api.get('/api/records/' + encodeURIComponent(id));
        return r;
    }

    ui.route('/hh/:id/edit', async function (p) {
        try {
            var r = await loadRecord(p.id);
            recordForm('修改户信息', '只保存改动的项', 'household', {
                id: p.id, values: r.fields, done: function () { ui.go('/hh/' + p.id); }
            });
        } catch (e) { app.screen('修改户信息').appendChild(ui.failure(e)); }
    });

    ui.route('/hh/:id/member', function (p) {
        recordForm('添加家庭成员', '', 'member', {
            hide: ['household'], fixed: { household: p.id }, submit: '添加',
            done: function () { ui.go('/hh/' + p.id); }
        });
    });

    ui.route('/member/:id/edit', async function (p, q) {
        try {
            var r = await loadRecord(p.id);
            var hid = q.hh || r.fields.household;
            recordForm('修改成员信息', '', 'member', {
                id: p.id, values: r.fields, hide: ['household'],
                done: function () { ui.go('/hh/' + hid); }
            });
        } catch (e) { app.screen('修改成员信息').appendChild(ui.failure(e)); }
    });

    /* The deadline a need gets from its category (the schema's default). */
    function defaultDeadline(category, recordedAt) {
        var s = L.schema || {};
        var d = (s.defaults && s.defaults.need && s.defaults.need.deadline) ||
            (s.types && s.types.need && s.types.need.defaults && s.types.need.defaults.deadline) ||
            (s.defaults && s.defaults.deadline);
        if (!d || !d.days || !category) return null;
        var days = d.days[category];
        if (days === undefined) return null;
        return ui.addDays(recordedAt || app.me.today, days);
    }
    MQ.cadre = { defaultDeadline: defaultDeadline };

    ui.route('/hh/:id/need', async function (p) {
        var hint = h('p', { class: 'hint', id: 'deadline-hint', 'aria-live': 'polite' });
        var cadre = app.me.cadre && app.me.cadre.id;
        /* 首问责任: the cadre who registers a need takes it, unless unticked. */
        var accept = h('input', { type: 'checkbox', id: 'accept-now', checked: !!cadre, disabled: !cadre });
        var fixed = { household: p.id, recorded_at: app.me.today };
        if (cadre) fixed.recorded_by = cadre;
        var form = await recordForm('登记民情诉求', '民情登记卡：先选类别，办理期限按类别自动填写', 'need', {
            hide: ['household', 'recorded_by', 'area', 'recorded_at', 'served_households', 'served_people', 'served_livestock'],
            order: ['category', 'deadline', 'description', 'source', 'urgency'],
            fixed: fixed, submit: '登记',
            values: { source: 'home_visit', urgency: 'normal' },
            extra: h('label', { class: 'tag accept' }, accept, '登记后由我受理（首问责任）'),
            onInput: function (name, v, f) {
                if (name === 'category' && !f.isDirty('deadline')) {
                    var dl = defaultDeadline(v);
                    f.set('deadline', dl || '');
                    hint.textContent = dl ? '按“' + L.value('need', 'category', v) + '”类默认期限：' + dl + '（可修改）' : '';
                }
            },
            afterCreate: async function (id) {
                if (!accept.checked || !cadre) return;
                await MQ.api.post('/api/records/need_action', { fields: { need: id, action: 'accept', by: cadre, at: app.me.today } });
            },
            done: function () { ui.go('/hh/' + p.id); }
        });
        var dlField = form.controls.deadline;
        if (dlField) {
            dlField.wrap.appendChild(hint);
            dlField.input.addEventListener('input', function () { hint.textContent = '期限已手动修改'; });
        }
    });

    ui.route('/hh/:id/visit', function (p) {
        recordForm('记录走访', '', 'visit', {
            hide: ['household'], fixed: { household: p.id }, submit: '保存',
            values: { cadre: app.me.cadre && app.me.cadre.id, at: app.me.today, kind: 'home_visit' },
            done: function () { ui.go('/hh/' + p.id); }
        });
    });

    ui.route('/talk', function () {
        var areas = app.me.areas || [];
        recordForm('谈心谈话', '干部之间的谈心谈话（五必谈）', 'talk', {
            submit: '保存',
            values: { cadre: app.me.cadre && app.me.cadre.id, at: app.me.today, area: areas.length === 1 ? areas[0].id : undefined },
            done: function () { ui.go('/work'); }
        });
    });

    /* ---- contact card (民情联系卡) --------------------------------------------- */

    async function issueCard(hid, hh) {
        var cadre = app.me.cadre && app.me.cadre.id;
        if (!cadre) {
            ui.toast('本机没有设定干部，不能发卡', true);
            return;
        }
        try {
            var res = await MQ.api.post('/api/records/contact_card', { fields: { household: hid, cadre: cadre, issued_at: app.me.today } });
            ui.go('/card/' + res.id + '?hh=' + hid);
        } catch (e) {
            ui.toast(e.message, true);
        }
    }

    ui.route('/card/:id', async function (p, q) {
        var main = app.screen('民情联系卡', '打印在 A6 卡片上，交给农户');
        try {
            var card = await loadRecord(p.id);
            var cf = card.fields;
            var hh = await loadRecord(cf.household);
            var cadre = null;
            try { cadre = await loadRecord(cf.cadre); } catch (e) { cadre = { fields: { name: app.nameOf(cf.cadre) } }; }
            var c = cadre.fields;
            main.appendChild(h('div', { class: 'print-card', id: 'print-card' },
                h('h2', { text: '民情联系卡' }),
                h('dl', {},
                    h('dt', { text: '农户' }), h('dd', { text: hh.fields.head_name + (hh.fields.address ? '（' + hh.fields.address + '）' : '') }),
                    h('dt', { text: '联系干部' }), h('dd', { text: c.name + (c.position ? ' · ' + (c.unit || '') + c.position : '') }),
                    h('dt', { text: '联系电话' }), h('dd', { class: 'phone', text: c.phone || '' }),
                    h('dt', { text: '发卡日期' }), h('dd', { text: cf.issued_at })),
                h('p', { class: 'promise', text: '我是您家的联系干部。家里有困难、有诉求，请随时打电话或找我；我会登记在册，按期办理，办结后向您回复，请您评价是否满意。' }),
                h('p', { class: 'sign', text: '干部签名：____________' })));
            main.appendChild(h('div', { class: 'toolbar no-print' },
                h('button', { type: 'button', class: 'btn primary', text: '打印', onclick: function () { window.print(); } }),
                h('a', { class: 'btn', href: '#/hh/' + (q.hh || cf.household), text: '返回档案' })));
        } catch (e) {
            main.appendChild(ui.failure(e));
        }
    });

    /* ---- conflicts (both hosts) ------------------------------------------------ */

    ui.route('/conflicts', async function () {
        var main = app.screen('冲突', '两台设备改了同一项：选定一个值，选择会同步到各处');
        var list = h('div', { class: 'list', id: 'conflicts' }, h('p', { class: 'loading', text: '正在加载…' }));
        main.appendChild(list);
        try {
            await app.namesSoon();
            var rows = await MQ.api.get('/api/conflicts');
            app.learnNames(rows);
            ui.clear(list);
            app.setConflicts(rows.length);
            if (!rows.length) list.appendChild(empty('没有待处理的冲突。'));
            rows.forEach(function (c) {
                list.appendChild(h('article', { class: 'conflict', dataset: { conflict: c.conflict } },
                    h('header', {},
                        h('strong', { text: c.label || L.type(c.type) }), ' · ',
                        h('span', { text: L.type(c.type) + ' / ' + L.field(c.type, c.field) })),
                    h('ul', { class: 'candidates' }, (c.candidates || []).map(function (cand) {
                        return h('li', {},
                            h('div', { class: 'row-main' },
                                h('strong', { class: 'cand-value', text: show(c.type, c.field, cand.value) || '（空）' }),
                                h('div', { class: 'sub' }, (cand.by_name || (cand.by ? app.nameOf(cand.by) : '未署名')) + ' · ' + (cand.site || '') + ' · ',
                                    h('span', { class: 'when', text: ui.momentOf(cand.at) }))),
                            h('button', {
                                type: 'button', class: 'btn primary', text: '采用此值',
                                onclick: async function (ev) {
                                    ev.target.disabled = true;
                                    try {
                                        await MQ.api.post('/api/conflicts/resolve', { conflict: c.conflict, value: cand.value });
                                        ui.toast('已选定“' + (show(c.type, c.field, cand.value) || '空') + '”，' +
                                            (app.me.host === 'office' ? '各平板下次同步时收到' : '下次同步会发出'));
                                        ui.dispatch();
                                    } catch (e) {
                                        ev.target.disabled = false;
                                        ui.toast(e.message, true);
                                    }
                                }
                            }));
                    }))));
            });
        } catch (e) {
            ui.clear(list).appendChild(ui.failure(e));
        }
    });

    /* ---- sync (tablet) --------------------------------------------------------- */

    function resultText(last) {
        if (!last) return '还没有同步过。';
        var parts = [];
        var conflicts = last.conflicts || 0;
        if (last.ok) {
            parts.push('已发送 ' + (last.sent || 0) + ' 条更改，收到 ' + (last.received || 0) + ' 条');
            if (conflicts) parts.push(conflicts + ' 个冲突待处理');
            if (last.rejected) parts.push(last.rejected + ' 条被服务器拒收（已保留）');
            return parts.join('；') + '。';
        }
        var msg = last.message || '';
        var why = /unreachable|connect|resolve host|timed? ?out/i.test(msg) || !msg ? '连不上服务器'
            : /revoked|token|unauthori[sz]ed|401|403/i.test(msg) ? '服务器不认本机的令牌（设备可能已停用），请联系乡镇办公室'
            : msg;
        return '同步没有完成：' + why + '。本机数据没有丢失，请到有网络的地方（如乡镇办公室）再试。';
    }

    ui.route('/sync', async function () {
        var main = app.screen('同步', '把本机的登记发给县里的服务器，并收取本村的更新');
        var btn = h('button', { type: 'button', class: 'btn primary big', id: 'sync-btn', text: '开始同步' });
        var bar = h('div', { class: 'progress', hidden: true }, h('div', { class: 'progress-bar' }));
        var step = h('p', { class: 'step', id: 'sync-step', 'aria-live': 'polite' });
        var result = h('div', { class: 'alert', id: 'sync-result', role: 'status' });
        main.appendChild(h('div', { class: 'sync-box' }, btn, bar, step, result));
        var polling = false;

        function render(st) {
            var running = !!(st && st.running);
            btn.disabled = running;
            btn.textContent = running ? '正在同步…' : '开始同步';
            bar.hidden = !running;
            step.textContent = running ? stepText(st.step) : '';
            if (!running) {
                result.textContent = resultText(st && st.last);
                result.className = 'alert ' + (st && st.last ? (st.last.ok ? (st.last.conflicts ? 'warn' : 'good') : 'bad') : '');
                if (st && st.last && st.last.ok && st.last.conflicts) {
                    result.appendChild(h('div', {}, h('a', { class: 'btn', href: '#/conflicts', text: '去处理冲突' })));
                }
            }
            var m = /(\d+)\s*\/\s*(\d+)/.exec((st && st.step) || '');
            bar.firstChild.style.width = m && +m[2] > 0 ? Math.round(100 * +m[1] / +m[2]) + '%' : '30%';
            bar.classList.toggle('indeterminate', !m);
        }
        function stepText(s) {
            if (!s) return '正在同步…';
            return s.replace(/^sending/, '正在发送').replace(/^receiving/, '正在接收').replace(/^connecting/, '正在连接')
                .replace(/^pulling/, '正在接收').replace(/^pushing/, '正在发送');
        }
        async function poll() {
            if (polling) return;
            polling = true;
            try {
                for (;;) {
                    var st = await MQ.api.get('/api/sync');
                    if (!document.body.contains(btn)) return;
                    render(st);
                    if (!st.running) {
                        if (st.last && st.last.ok) app.refreshConflicts();
                        return;
                    }
                    await new Promise(function (r) { setTimeout(r, 400); });
                }
            } catch (e) {
                result.textContent = e.message;
                result.className = 'alert bad';
            } finally {
                polling = false;
            }
        }
        btn.addEventListener('click', async function () {
            btn.disabled = true;
            try {
                await MQ.api.post('/api/sync', {});
            } catch (e) {
                if (e.status !== 409) {
                    btn.disabled = false;
                    result.textContent = e.message;
                    result.className = 'alert bad';
                    return;
                }
            }
            render({ running: true, step: '' });
            poll();
        });
        poll();
    });
})(window.MQ);

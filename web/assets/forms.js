/*
 * forms.js - forms made from the schema (GET /api/schema): one control per
 * field in the schema's order, with the schema's Chinese label, so that a
 * county that adds a field sees it here without a change to this file.
 *
 * The rules the store applies are checked here too, before anything is
 * sent, and the rule that a value breaks is shown under its field: required,
 * lengths, whole numbers and bounds, dates, phone numbers and the check digit
 * of a resident identity number (GB 11643-1999, mod 11-2).  The store checks
 * again; its "fields" errors are shown the same way.  Nothing is saved while
 * a rule is broken.
 */
'use strict';

(function (MQ) {
    var h = MQ.ui.h;
    var L = MQ.label;

    var ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    var ID_CHECK = '10X98765432';

    /** The check digit of the first 17 digits of an identity number. */
    function idCheckDigit(s17) {
        var sum = 0;
        for (var i = 0; i < 17; i++) sum += (s17.charCodeAt(i) - 48) * ID_WEIGHTS[i];
        return ID_CHECK[sum % 11];
    }

    /** The rule an identity number breaks, or null. */
    function idNumberRule(s) {
        if (!/^\d{17}[\dX]$/.test(s)) return '身份证号为 18 位：17 位数字加 1 位校验码（0-9 或 X）';
        var birth = s.slice(6, 10) + '-' + s.slice(10, 12) + '-' + s.slice(12, 14);
        if (!MQ.ui.parseDay(birth)) return '身份证号中的出生日期 ' + birth + ' 不是有效日期';
        var want = idCheckDigit(s);
        if (s[17] !== want) return '校验位应为 ' + want + '，填写的是 ' + s[17] + '（GB 11643 校验不通过）';
        return null;
    }

    function phoneRule(s) {
        if (/^1[3-9]\d{9}$/.test(s)) return null;
        if (/^0\d{2,3}-?[1-9]\d{6,7}$/.test(s)) return null;
        return '手机号为 1 开头的 11 位数字；座机需带区号，如 0878-6123456';
    }

    function textLength(s) {
        return Array.from(s).length;
    }

    /**
     * The rule value v (already converted) of field definition fd breaks,
     * or null.  Empty values break only `required`.
     */
    function rule(fd, v, raw) {
        var empty = v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
        if (empty) {
            if (raw !== undefined && raw !== '' && (fd.kind === 'integer' || fd.kind === 'decimal')) return '应为数字';
            return fd.required ? '必填' : null;
        }
        switch (fd.kind) {
        case 'text': {
            var n = textLength(v);
            if (fd.min_length !== undefined && n < fd.min_length) return '至少 ' + fd.min_length + ' 个字';
            if (fd.max_length !== undefined && n > fd.max_length) return '最多 ' + fd.max_length + ' 个字，现有 ' + n + ' 个';
            return null;
        }
        case 'integer':
        case 'decimal':
            if (typeof v !== 'number' || !isFinite(v)) return '应为数字';
            if (fd.kind === 'integer' && Math.floor(v) !== v) return '应为整数';
            if (fd.min !== undefined && v < fd.min) return '不能小于 ' + fd.min;
            if (fd.max !== undefined && v > fd.max) return '不能大于 ' + fd.max;
            return null;
        case 'date':
            if (!MQ.ui.parseDay(v)) return '日期应为 年-月-日，如 2024-05-01';
            if (typeof fd.min === 'string' && v < fd.min) return '不能早于 ' + fd.min;
            if (typeof fd.max === 'string' && v > fd.max) return '不能晚于 ' + fd.max;
            return null;
        case 'phone':
            return phoneRule(v);
        case 'id_number':
            return idNumberRule(v);
        case 'enum':
            if (fd.values && fd.values.indexOf(v) < 0) return '请从选项中选择';
            return null;
        default:
            return null;
        }
    }

    /* One control for field f of the type, with its label and rule line. */
    function control(type, f, fd, opts) {
        var id = 'f-' + type + '-' + f + '-' + (++control.seq);
        var label = L.field(type, f);
        var input;
        var refs = (opts.refs && opts.refs[f]) || null;

        if (fd.kind === 'enum' || (fd.kind === 'ref' && refs)) {
            input = h('select', { id: id, name: f });
            input.appendChild(h('option', { value: '', text: fd.required ? '请选择' : '（不填）' }));
            var choices = fd.kind === 'enum'
                ? (fd.values || []).map(function (v) { return { value: v, label: L.value(type, f, v) }; })
                : refs;
            choices.forEach(function (c) { input.appendChild(h('option', { value: c.value, text: c.label })); });
        } else if (fd.kind === 'tags') {
            input = h('div', { class: 'tags', id: id, role: 'group', 'aria-label': label });
            (fd.values || []).forEach(function (v) {
                input.appendChild(h('label', { class: 'tag' },
                    h('input', { type: 'checkbox', value: v, name: f }), L.value(type, f, v)));
            });
        } else if (fd.kind === 'boolean') {
            input = h('input', { type: 'checkbox', id: id, name: f });
        } else if (fd.kind === 'text' && fd.max_length !== undefined && fd.max_length > 200) {
            input = h('textarea', { id: id, name: f, rows: 3 });
        } else {
            var attrs = { id: id, name: f, type: 'text', autocomplete: 'off' };
            if (fd.kind === 'integer') attrs.inputmode = 'numeric';
            if (fd.kind === 'decimal') attrs.inputmode = 'decimal';
            if (fd.kind === 'phone') { attrs.type = 'tel'; attrs.inputmode = 'tel'; }
            if (fd.kind === 'date') attrs.type = 'date';
            if (fd.kind === 'id_number') { attrs.maxlength = 18; attrs.autocapitalize = 'characters'; attrs.spellcheck = 'false'; }
            if (fd.kind === 'text' && fd.max_length) attrs.maxlength = fd.max_length;
            input = h('input', attrs);
            if (fd.kind === 'id_number') {
                input.addEventListener('input', function () {
                    if (/x/.test(input.value)) input.value = input.value.replace(/x/g, 'X');
                });
            }
        }
        var ruleLine = h('div', { class: 'rule', id: id + '-rule', 'aria-live': 'polite' });
        if (input.tagName !== 'DIV') input.setAttribute('aria-describedby', id + '-rule');
        var wrap = h('div', { class: 'field', dataset: { field: f, kind: fd.kind } },
            h(fd.kind === 'tags' ? 'span' : 'label', { class: 'label', for: fd.kind === 'tags' ? null : id },
                label, fd.required ? h('span', { class: 'req', 'aria-hidden': 'true', text: ' *' }) : null),
            input, ruleLine);
        return { wrap: wrap, input: input, rule: ruleLine, fd: fd, name: f };
    }
    control.seq = 0;

    function readRaw(c) {
        if (c.fd.kind === 'tags') {
            return Array.prototype.filter.call(c.input.querySelectorAll('input'), function (i) { return i.checked; })
                .map(function (i) { return i.value; });
        }
        if (c.fd.kind === 'boolean') return c.input.checked;
        return c.input.value.trim();
    }

    function convert(c, raw) {
        var k = c.fd.kind;
        if (k === 'tags' || k === 'boolean') return raw;
        if (raw === '') return null;
        if (k === 'integer' || k === 'decimal') {
            if (!/^-?\d+(\.\d+)?$/.test(raw)) return NaN;
            return Number(raw);
        }
        return raw;
    }

    function write(c, v) {
        if (c.fd.kind === 'tags') {
            var set = Array.isArray(v) ? v : [];
            c.input.querySelectorAll('input').forEach(function (i) { i.checked = set.indexOf(i.value) >= 0; });
        } else if (c.fd.kind === 'boolean') {
            c.input.checked = !!v;
        } else {
            c.input.value = v === null || v === undefined ? '' : String(v);
        }
    }

    /* Equal for the store: a missing value, null and no tags are the same. */
    function same(a, b) {
        var norm = function (x) { return x === undefined || (Array.isArray(x) && x.length === 0) ? null : x; };
        return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
    }

    /**
     * A form for a record of `type`.
     * opts: values (the record's fields, for an edit or as defaults), hide
     * (fields left out), only (fields shown, in schema order), refs
     * ({field: [{value,label}]}: a ref field is shown only with choices),
     * edit (send only the fields changed), submit (the button's text),
     * onSubmit(fields) -> Promise (may reject with an MQ.ApiError), extra
     * (nodes put before the buttons), onInput(name, value, form).
     * Returns {node, controls, set(name, v), get(name), showErrors(map)}.
     */
    function build(type, opts) {
        opts = opts || {};
        var ty = L.schema && L.schema.types && L.schema.types[type];
        var defs = (ty && ty.fields) || {};
        var values = opts.values || {};
        var hide = opts.hide || [];
        var controls = {};
        var order = [];
        var names = opts.order ? opts.order.concat(Object.keys(defs).filter(function (f) { return opts.order.indexOf(f) < 0; }))
            : Object.keys(defs);
        var formEl = h('form', { class: 'form', novalidate: true, dataset: { type: type } });
        var general = h('div', { class: 'alert bad form-error', role: 'alert', hidden: true });
        formEl.appendChild(general);

        names.forEach(function (f) {
            var fd = defs[f];
            if (!fd || hide.indexOf(f) >= 0) return;
            if (opts.only && opts.only.indexOf(f) < 0) return;
            if (fd.kind === 'ref' && !(opts.refs && opts.refs[f])) return;
            var c = control(type, f, fd, opts);
            write(c, values[f]);
            controls[f] = c;
            order.push(f);
            formEl.appendChild(c.wrap);
            var check = function () { show(c, rule(c.fd, convert(c, readRaw(c)), readRaw(c))); };
            c.input.addEventListener('change', function () {
                c.dirty = true;
                check();
                if (opts.onInput) opts.onInput(f, convert(c, readRaw(c)), api);
            });
            c.input.addEventListener('input', function () { c.dirty = true; if (c.shown) check(); });
            if (c.input.tagName !== 'DIV') c.input.addEventListener('blur', check);
        });

        function show(c, msg) {
            c.rule.textContent = msg || '';
            c.shown = !!msg;
            c.wrap.classList.toggle('invalid', !!msg);
            if (c.input.tagName !== 'DIV') {
                if (msg) c.input.setAttribute('aria-invalid', 'true');
                else c.input.removeAttribute('aria-invalid');
            }
        }

        function showErrors(fields, message) {
            var first = null;
            Object.keys(fields || {}).forEach(function (f) {
                if (controls[f]) {
                    show(controls[f], fields[f]);
                    if (!first) first = controls[f];
                }
            });
            var others = Object.keys(fields || {}).filter(function (f) { return !controls[f]; });
            if (message && (!first || others.length)) {
                general.textContent = message;
                general.hidden = false;
            }
            if (first && first.input.focus) first.input.focus();
        }

        var saveBtn = h('button', { type: 'submit', class: 'btn primary', text: opts.submit || '保存' });
        /* A press on the button must not blur the field first: the blur
         * would show its rule, move the button down, and the press would
         * miss it.  The submit checks every field anyway. */
        saveBtn.addEventListener('mousedown', function (e) { e.preventDefault(); });
        if (opts.extra) MQ.ui.append(formEl, [opts.extra]);
        formEl.appendChild(h('div', { class: 'actions' }, saveBtn,
            opts.onCancel ? h('button', { type: 'button', class: 'btn', text: '取消', onclick: opts.onCancel }) : null));

        formEl.addEventListener('submit', async function (e) {
            e.preventDefault();
            general.hidden = true;
            var out = {};
            var bad = null;
            order.forEach(function (f) {
                var c = controls[f];
                var raw = readRaw(c);
                var v = convert(c, raw);
                var msg = rule(c.fd, v, raw);
                show(c, msg);
                if (msg && !bad) bad = c;
                if (opts.edit) {
                    if (!same(v, values[f])) out[f] = v;
                } else if (v !== null && !(Array.isArray(v) && v.length === 0 && values[f] === undefined)) {
                    if (opts.omitUntouched && opts.omitUntouched.indexOf(f) >= 0 && !c.dirty) return;
                    out[f] = v;
                }
            });
            if (bad) {
                general.textContent = '请按提示改正后再保存';
                general.hidden = false;
                if (bad.input.focus) bad.input.focus();
                return;
            }
            if (opts.fixed) Object.keys(opts.fixed).forEach(function (k) { out[k] = opts.fixed[k]; });
            saveBtn.disabled = true;
            try {
                await opts.onSubmit(out);
            } catch (err) {
                if (err && err.fields) showErrors(err.fields, err.message);
                else {
                    general.textContent = (err && err.message) || String(err);
                    general.hidden = false;
                }
            } finally {
                saveBtn.disabled = false;
            }
        });

        var api = {
            node: formEl,
            controls: controls,
            set: function (f, v) { if (controls[f]) write(controls[f], v); },
            get: function (f) { return controls[f] ? convert(controls[f], readRaw(controls[f])) : undefined; },
            isDirty: function (f) { return !!(controls[f] && controls[f].dirty); },
            showErrors: showErrors
        };
        return api;
    }

    MQ.forms = { build: build, rule: rule, idCheckDigit: idCheckDigit, idNumberRule: idNumberRule, phoneRule: phoneRule };
})(window.MQ);

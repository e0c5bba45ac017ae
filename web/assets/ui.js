/*
 * ui.js - the small toolkit every screen is built with: elements made in
 * code (the Content-Security-Policy allows no inline script or style, so
 * nothing is written as HTML text and every handler is attached here), the
 * Chinese labels of the schema, dates, a status line, a bottom sheet for
 * short forms, and the hash router.
 */
'use strict';

(function (MQ) {
    var SVG_NS = 'http://www.w3.org/2000/svg';

    /* Appends children: strings become text, arrays are flattened, null skipped. */
    function append(node, kids) {
        kids.forEach(function (k) {
            if (k === null || k === undefined || k === false) return;
            if (Array.isArray(k)) append(node, k);
            else if (typeof k === 'string' || typeof k === 'number') node.appendChild(document.createTextNode(String(k)));
            else node.appendChild(k);
        });
        return node;
    }

    function setAttrs(node, attrs) {
        Object.keys(attrs || {}).forEach(function (k) {
            var v = attrs[k];
            if (v === undefined || v === null || v === false) return;
            if (k === 'class') node.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
            else if (k === 'text') node.textContent = v;
            else if (k.slice(0, 2) === 'on' && typeof v === 'function') node.addEventListener(k.slice(2), v);
            else if (k === 'value') node.value = v;
            else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden') node[k] = !!v;
            else if (k === 'dataset') Object.keys(v).forEach(function (d) { node.dataset[d] = v[d]; });
            else node.setAttribute(k, v === true ? '' : String(v));
        });
    }

    /** h('div', {class:'x', onclick: f}, 'text', child, [more]) */
    function h(tag, attrs) {
        var node = document.createElement(tag);
        setAttrs(node, attrs);
        return append(node, Array.prototype.slice.call(arguments, 2));
    }

    /** The same for SVG elements (charts built in code). */
    function svg(tag, attrs) {
        var node = document.createElementNS(SVG_NS, tag);
        Object.keys(attrs || {}).forEach(function (k) {
            if (k === 'text') node.textContent = attrs[k];
            else if (k === 'class') node.setAttribute('class', attrs[k]);
            else node.setAttribute(k, String(attrs[k]));
        });
        return append(node, Array.prototype.slice.call(arguments, 2));
    }

    function clear(node) {
        while (node.firstChild) node.removeChild(node.firstChild);
        return node;
    }

    /* ---- labels ---------------------------------------------------------- */

    /* Words of the screens that are no field of the schema. */
    var STATUS = { registered: '已登记', open: '在办', reopened: '重新办理', overdue: '超期', resolved: '已办结' };
    var LEVEL = { county: '县', township: '乡镇', village: '村', group: '组' };

    var L = {
        schema: null,
        type: function (t) {
            var ty = L.schema && L.schema.types && L.schema.types[t];
            return (ty && ty.label) || t;
        },
        fieldDef: function (t, f) {
            var ty = L.schema && L.schema.types && L.schema.types[t];
            return ty && ty.fields && ty.fields[f];
        },
        field: function (t, f) {
            var fd = L.fieldDef(t, f);
            return (fd && fd.label) || f;
        },
        /** The Chinese word of a choice of field f of type t. */
        value: function (t, f, v) {
            if (v === null || v === undefined) return '';
            var fd = L.fieldDef(t, f);
            if (fd && fd.labels && fd.labels[v] !== undefined) return fd.labels[v];
            var rl = L.reportLabels();
            if (rl[f] && rl[f][v] !== undefined) return rl[f][v];
            if (f === 'kind' && rl.visit_kind && rl.visit_kind[v] !== undefined) return rl.visit_kind[v];
            return String(v);
        },
        /* The schema's words for the reports: "labels" (or reports.labels). */
        reportLabels: function () {
            var s = L.schema || {};
            return s.labels || (s.reports && s.reports.labels) || {};
        },
        status: function (s) {
            var rl = L.reportLabels();
            return (rl.status && rl.status[s]) || STATUS[s] || s;
        },
        level: function (lv) { var rl = L.reportLabels(); return (rl.level && rl.level[lv]) || LEVEL[lv] || lv; },
        choices: function (t, f) {
            var fd = L.fieldDef(t, f);
            return (fd && fd.values) || [];
        }
    };

    /* ---- dates ----------------------------------------------------------- */

    function parseDay(s) {
        var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || '');
        if (!m) return null;
        var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
        if (d.getUTCFullYear() !== +m[1] || d.getUTCMonth() !== +m[2] - 1 || d.getUTCDate() !== +m[3]) return null;
        return d;
    }
    function fmtDay(d) {
        return d.toISOString().slice(0, 10);
    }
    function addDays(s, n) {
        var d = parseDay(s);
        if (!d) return null;
        d.setUTCDate(d.getUTCDate() + n);
        return fmtDay(d);
    }
    /** "剩 3 天", "今天到期", "超期 5 天" */
    function daysText(n) {
        if (n === null || n === undefined) return '无期限';
        if (n < 0) return '超期 ' + (-n) + ' 天';
        if (n === 0) return '今天到期';
        return '剩 ' + n + ' 天';
    }
    function dayOf(ts) {
        return ts ? String(ts).slice(0, 10) : '';
    }
    /** "YYYY-MM-DD HH:MM" of a timestamp, in the browser's time. */
    function momentOf(ts) {
        if (!ts) return '';
        var d = new Date(ts);
        if (isNaN(d.getTime())) return String(ts).slice(0, 16).replace('T', ' ');
        var p = function (n) { return (n < 10 ? '0' : '') + n; };
        return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes());
    }
    function pct(x) {
        if (x === null || x === undefined) return '—';
        return (Math.round(x * 1000) / 10).toFixed(1) + '%';
    }

    /* ---- status line and sheet -------------------------------------------- */

    var toastTimer = null;
    function toast(text, bad) {
        var t = document.getElementById('toast');
        if (!t) return;
        t.textContent = text;
        t.className = bad ? 'show bad' : 'show';
        clearTimeout(toastTimer);
        toastTimer = setTimeout(function () { t.className = ''; }, bad ? 6000 : 3000);
    }

    /** A panel over the screen for a short form; returns {body, close}. */
    function sheet(title, onClose) {
        var body = h('div', { class: 'sheet-body' });
        var close = function () {
            veil.remove();
            document.removeEventListener('keydown', onKey);
            if (onClose) onClose();
        };
        var onKey = function (e) { if (e.key === 'Escape') close(); };
        var veil = h('div', { class: 'veil', onclick: function (e) { if (e.target === veil) close(); } },
            h('section', { class: 'sheet', role: 'dialog', 'aria-modal': 'true', 'aria-label': title },
                h('header', { class: 'sheet-head' },
                    h('h2', { text: title }),
                    h('button', { type: 'button', class: 'btn ghost', 'aria-label': '关闭', onclick: close, text: '关闭' })),
                body));
        document.addEventListener('keydown', onKey);
        document.body.appendChild(veil);
        return { body: body, close: close };
    }

    /** A message box for a failed call, in place of a screen's content. */
    var FAILURE = {
        not_found: '找不到，或不在您的辖区内。',
        forbidden: '无权查看或修改：不在您的辖区内。',
        network: '连不上本机或服务器的服务，请稍后再试。',
        unauthorized: '未登录或密钥已失效。'
    };
    function failure(err) {
        var msg = err && err.message ? err.message : String(err);
        var head = err && FAILURE[err.code];
        return h('div', { class: 'alert bad', role: 'alert' },
            head || msg, head && msg && msg !== head ? h('div', { class: 'sub', text: msg }) : null);
    }

    /** A button that asks once more before it acts. */
    function confirmButton(label, confirmLabel, cls, action) {
        var armed = false;
        var b = h('button', { type: 'button', class: 'btn ' + (cls || '') });
        b.textContent = label;
        b.addEventListener('click', function () {
            if (!armed) {
                armed = true;
                b.textContent = confirmLabel;
                b.classList.add('armed');
                setTimeout(function () {
                    if (armed) { armed = false; b.textContent = label; b.classList.remove('armed'); }
                }, 5000);
                return;
            }
            armed = false;
            b.disabled = true;
            Promise.resolve(action()).finally(function () {
                b.disabled = false;
                b.textContent = label;
                b.classList.remove('armed');
            });
        });
        return b;
    }

    /* ---- router ----------------------------------------------------------- */

    var routes = [];
    /** route('/hh/:id', function (params, query) {...}) */
    function route(pattern, fn) {
        var keys = [];
        var re = new RegExp('^' + pattern.replace(/:(\w+)/g, function (_, k) { keys.push(k); return '([^/]+)'; }) + '$');
        routes.push({ re: re, keys: keys, fn: fn });
    }
    function current() {
        var hash = (window.location.hash || '').replace(/^#/, '');
        if (!hash || hash[0] !== '/') hash = '/';
        var qi = hash.indexOf('?');
        var path = qi < 0 ? hash : hash.slice(0, qi);
        var q = {};
        if (qi >= 0) {
            hash.slice(qi + 1).split('&').forEach(function (p) {
                if (!p) return;
                var kv = p.split('=');
                q[decodeURIComponent(kv[0])] = decodeURIComponent(kv[1] || '');
            });
        }
        return { path: path, query: q };
    }
    function dispatch() {
        var c = current();
        for (var i = 0; i < routes.length; i++) {
            var m = routes[i].re.exec(c.path);
            if (m) {
                var params = {};
                routes[i].keys.forEach(function (k, j) { params[k] = decodeURIComponent(m[j + 1]); });
                return routes[i].fn(params, c.query, c.path);
            }
        }
        return null;
    }
    function go(path) {
        if (window.location.hash === '#' + path) dispatch();
        else window.location.hash = '#' + path;
    }

    MQ.ui = {
        h: h, svg: svg, clear: clear, append: append,
        toast: toast, sheet: sheet, failure: failure, confirmButton: confirmButton,
        parseDay: parseDay, addDays: addDays, daysText: daysText, dayOf: dayOf, momentOf: momentOf, pct: pct,
        route: route, dispatch: dispatch, go: go, current: current
    };
    MQ.label = L;
})(window.MQ);

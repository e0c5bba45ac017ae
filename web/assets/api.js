/*
 * api.js - the page's one way to the host's JSON API (docs/UI.md).
 *
 * On the tablet the host's per-start secret arrives once in the address
 * ("#k=SECRET"); it is kept in sessionStorage (gone when the tab closes) and
 * the hash is cleared at once, so the secret is neither in the history nor
 * shown.  Every request then carries it as X-Minqing-Secret.  At the office
 * the session cookie rides along by itself, and every request that changes
 * state carries the CSRF token that GET /api/me or the sign-in returned.
 * A refusal becomes an MQ.ApiError with the host's code, message and, for a
 * form, the fields in error.
 */
'use strict';

window.MQ = window.MQ || {};

(function (MQ) {
    var SECRET_KEY = 'mq_secret';

    /* Takes the secret out of the address before anything else runs. */
    (function takeSecret() {
        var h = window.location.hash || '';
        var m = /^#k=([A-Za-z0-9_\-.~%]+)/.exec(h);
        if (m) {
            try {
                window.sessionStorage.setItem(SECRET_KEY, decodeURIComponent(m[1]));
            } catch (e) {
                /* storage refused: keep it for this page only */
                MQ._secret = decodeURIComponent(m[1]);
            }
            window.history.replaceState(null, '', window.location.pathname + window.location.search);
        }
    })();

    function secret() {
        try {
            return window.sessionStorage.getItem(SECRET_KEY) || MQ._secret || null;
        } catch (e) {
            return MQ._secret || null;
        }
    }

    function ApiError(status, code, message, fields) {
        this.name = 'ApiError';
        this.status = status;
        this.code = code;
        this.message = message;
        this.fields = fields || null;
    }
    ApiError.prototype = Object.create(Error.prototype);
    MQ.ApiError = ApiError;

    var CODE_TEXT = {
        invalid: '输入有误',
        unauthorized: '未登录或密钥无效',
        forbidden: '无权进行此操作',
        not_found: '未找到',
        conflict: '操作冲突，请稍后再试',
        too_many: '尝试次数过多，请稍后再试',
        too_large: '内容过大',
        internal: '服务内部错误',
        network: '无法连接到服务'
    };

    function headers(method, extra) {
        var h = extra || {};
        var s = secret();
        if (s) h['X-Minqing-Secret'] = s;
        if (method !== 'GET' && MQ.api.csrf) h['X-CSRF-Token'] = MQ.api.csrf;
        return h;
    }

    function query(params) {
        if (!params) return '';
        var parts = [];
        Object.keys(params).forEach(function (k) {
            var v = params[k];
            if (v === undefined || v === null || v === '') return;
            parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
        });
        return parts.length ? '?' + parts.join('&') : '';
    }

    async function send(method, path, body, params) {
        var opts = { method: method, credentials: 'same-origin', cache: 'no-store' };
        var h = {};
        if (body !== undefined) {
            h['Content-Type'] = 'application/json';
            opts.body = JSON.stringify(body);
        }
        opts.headers = headers(method, h);
        var res;
        try {
            res = await fetch(path + query(params), opts);
        } catch (e) {
            throw new ApiError(0, 'network', CODE_TEXT.network, null);
        }
        return res;
    }

    async function errorOf(res) {
        var code = 'internal', message = '', fields = null;
        try {
            var j = await res.json();
            if (j && j.error) {
                code = j.error.code || code;
                message = j.error.message || '';
                fields = j.error.fields || null;
            }
        } catch (e) {
            /* not JSON: keep the status */
        }
        if (!message) message = CODE_TEXT[code] || ('HTTP ' + res.status);
        var err = new ApiError(res.status, code, message, fields);
        if (res.status === 401 && MQ.api.onUnauthorized) MQ.api.onUnauthorized(err);
        return err;
    }

    /** Calls the API and returns the answer's JSON; throws an ApiError. */
    async function call(method, path, body, params) {
        var res = await send(method, path, body, params);
        if (!res.ok) throw await errorOf(res);
        if (res.status === 204) return null;
        var text = await res.text();
        return text ? JSON.parse(text) : null;
    }

    /* The file name of a download, from Content-Disposition. */
    function filenameOf(res, fallback) {
        var cd = res.headers.get('Content-Disposition') || '';
        var m = /filename\*=UTF-8''([^;]+)/i.exec(cd);
        if (m) return decodeURIComponent(m[1]);
        m = /filename="?([^";]+)"?/i.exec(cd);
        return m ? m[1] : fallback;
    }

    /**
     * Downloads an export: fetched with the secret or cookie like any call,
     * then handed to the browser as a file.
     */
    async function download(path, params, fallback) {
        var res = await send('GET', path, undefined, params);
        if (!res.ok) throw await errorOf(res);
        var blob = await res.blob();
        var url = URL.createObjectURL(blob);
        var a = document.createElement('a');
        a.href = url;
        a.download = filenameOf(res, fallback || 'export');
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    }

    MQ.api = {
        csrf: null,
        onUnauthorized: null,
        secret: secret,
        codeText: function (code) { return CODE_TEXT[code] || code; },
        get: function (path, params) { return call('GET', path, undefined, params); },
        post: function (path, body) { return call('POST', path, body === undefined ? {} : body); },
        put: function (path, body) { return call('PUT', path, body); },
        del: function (path) { return call('DELETE', path); },
        download: download,
        query: query
    };
})(window.MQ);

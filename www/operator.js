// The operator's page: live readings, alerts, incidents and escalations from
// the broker over MQTT-over-WebSockets (MQTT.js), and the answers to
// incidents on dht11/incidents/response. Every value received is put in the
// page as text (textContent, attributes set one by one), never as markup.
// The password is typed and kept in memory only; the broker URL and the user
// name are remembered in localStorage.
'use strict';

(() => {
    const topics = {
        data: 'dht11/+/data',
        status: 'dht11/+/status',
        alerts: 'dht11/alerts',
        escalation: 'dht11/alerts/escalation',
        incidents: 'dht11/incidents',
        response: 'dht11/incidents/response',
    };
    const trendSpan = 3600 * 1000;  // the trend line's last hour
    const maxTrend = 720;           // points kept per sensor
    const maxLog = 50;              // alerts and escalations listed

    const $ = (id) => document.getElementById(id);
    const sensors = new Map();      // id -> {card, readings: [[ms, temperature]], at}
    const incidents = new Map();    // incident_id -> {card, record}
    let client = null;
    let user = '';

    function text(el, value) {
        el.textContent = value === undefined || value === null ? '' : String(value);
    }

    function setState(state, message) {
        const el = $('state');
        el.dataset.state = state;
        text(el, message);
        $('banner').hidden = state !== 'lost';
        $('connect').hidden = state === 'connected' || state === 'connecting' || state === 'lost';
        $('disconnect').hidden = !$('connect').hidden;
    }

    function parse(payload) {
        try {
            const v = JSON.parse(payload);
            return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
        } catch {
            return null;
        }
    }

    function number(v, unit) {
        return typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(1)}${unit}` : '—';
    }

    function age(ms) {
        const s = Math.max(0, Math.round(ms / 1000));
        if (s < 90) return `${s} s ago`;
        if (s < 5400) return `${Math.round(s / 60)} min ago`;
        return `${Math.round(s / 3600)} h ago`;
    }

    function fromTemplate(id) {
        return $(id).content.firstElementChild.cloneNode(true);
    }

    function sensor(id) {
        let s = sensors.get(id);
        if (s) return s;
        const card = fromTemplate('sensor-card');
        card.dataset.sensor = id;
        text(card.querySelector('.name'), id);
        s = {card, readings: [], at: 0, status: ''};
        sensors.set(id, s);
        // In name order.
        const after = [...sensors.keys()].sort().find((k) => k > id);
        $('sensors').insertBefore(card, after ? sensors.get(after).card : null);
        $('sensors-empty').hidden = true;
        return s;
    }

    function drawTrend(s) {
        const now = Date.now(), cutoff = now - trendSpan;
        while (s.readings.length && s.readings[0][0] < cutoff) s.readings.shift();
        const values = s.readings.map((r) => r[1]);
        const line = s.card.querySelector('.line');
        if (values.length < 2) {
            line.setAttribute('points', '');
            return;
        }
        let lo = Math.min(...values), hi = Math.max(...values);
        if (hi - lo < 1) { lo -= 0.5; hi += 0.5; }
        // From the oldest reading kept (an hour at most) to now.
        const from = s.readings[0][0], span = Math.max(now - from, 1);
        const points = s.readings.map(([t, v]) => {
            const x = ((t - from) / span) * 300;
            const y = 38 - ((v - lo) / (hi - lo)) * 36;
            return `${x.toFixed(1)},${y.toFixed(1)}`;
        });
        line.setAttribute('points', points.join(' '));
        s.card.querySelector('.trend').setAttribute('aria-label',
            `temperature, the last hour: ${lo.toFixed(1)} to ${hi.toFixed(1)} °C`);
    }

    function onReading(id, p) {
        const s = sensor(id);
        s.at = Date.now();
        text(s.card.querySelector('.temperature'), number(p.temperature, ' °C'));
        text(s.card.querySelector('.humidity'), number(p.humidity, ' %'));
        if (typeof p.temperature === 'number' && Number.isFinite(p.temperature)) {
            s.readings.push([s.at, p.temperature]);
            if (s.readings.length > maxTrend) s.readings.shift();
        }
        drawTrend(s);
        tick();
    }

    function showStatus(s, status) {
        s.status = status;
        const el = s.card.querySelector('.status');
        text(el, status);
        el.dataset.status = ['online', 'offline', 'sensor-error'].includes(status) ? status : 'other';
    }

    function logEntry(list, parts, kind) {
        const li = document.createElement('li');
        li.dataset.kind = kind;
        for (const [cls, value] of parts) {
            const span = document.createElement('span');
            span.className = cls;
            text(span, value);
            li.append(span, ' ');
        }
        list.prepend(li);
        while (list.children.length > maxLog) list.lastElementChild.remove();
    }

    function clock(ts) {
        const d = typeof ts === 'string' ? new Date(ts) : new Date();
        return Number.isNaN(d.getTime()) ? String(ts) : d.toLocaleTimeString();
    }

    function onAlert(a) {
        logEntry($('alerts'), [
            ['time', clock(a.timestamp)], ['state', a.state], ['severity', a.severity], ['rule', a.rule],
            ['sensor', a.sensor], ['message', a.message],
        ], a.state === 'resolved' ? 'resolved' : 'firing');
    }

    function onIncident(r) {
        const id = r.incident_id;
        if (typeof id !== 'number' || !Number.isSafeInteger(id)) return;
        if (r.event === 'escalation') {
            logEntry($('escalations'), [
                ['time', clock(r.timestamp)], ['incident', `#${id}`], ['levels', `level ${r.from_level} → ${r.to_level}`],
                ['rule', r.rule], ['sensor', r.sensor], ['reason', r.reason],
            ], 'escalation');
        }
        let i = incidents.get(id);
        if (r.event === 'resolved' || r.state === 'resolved') {
            if (i) {
                i.card.remove();
                incidents.delete(id);
            }
            $('incidents-empty').hidden = incidents.size > 0;
            return;
        }
        if (!i) {
            const card = fromTemplate('incident-card');
            card.dataset.incident = String(id);
            card.querySelector('.ack').addEventListener('click', () => answer(id, 'ack'));
            card.querySelector('.resolve').addEventListener('click', () => answer(id, 'resolve'));
            i = {card, record: {}};
            incidents.set(id, i);
            $('incidents').prepend(card);
            $('incidents-empty').hidden = true;
        }
        Object.assign(i.record, r);
        const rec = i.record;
        if (r.event === 'escalation' && r.to_level !== undefined) rec.level = r.to_level;
        if (r.event === 'acknowledged') rec.state = 'acknowledged';
        const c = i.card;
        text(c.querySelector('.id'), `#${id}`);
        text(c.querySelector('.rule'), rec.rule);
        text(c.querySelector('.sensor'), rec.sensor);
        text(c.querySelector('.level'), rec.level === undefined ? '' : `level ${rec.level}`);
        text(c.querySelector('.incident-state'), rec.state || 'open');
        c.dataset.state = rec.state || 'open';
        c.dataset.severity = rec.severity || '';
        text(c.querySelector('.message'), rec.message);
        c.querySelector('.ack').disabled = rec.state === 'acknowledged';
        if (rec.state === 'acknowledged')
            text(c.querySelector('.answer'), `acknowledged${rec.by || rec.acknowledged_by ? ` by ${rec.by || rec.acknowledged_by}` : ''}`);
    }

    function answer(id, action) {
        if (!client || !client.connected) {
            text(incidents.get(id).card.querySelector('.answer'), 'not connected: try again');
            return;
        }
        const card = incidents.get(id)?.card;
        client.publish(topics.response, JSON.stringify({incident_id: id, action, by: user}), {qos: 1}, (err) => {
            if (card) text(card.querySelector('.answer'), err ? `not sent: ${err.message}` : `${action} sent`);
        });
    }

    function onMessage(topic, message) {
        const payload = message.toString();
        const levels = topic.split('/');
        if (levels.length === 3 && levels[0] === 'dht11' && levels[2] === 'data') {
            const p = parse(payload);
            if (p) onReading(levels[1], p);
        } else if (levels.length === 3 && levels[0] === 'dht11' && levels[2] === 'status'
                   && levels[1] !== 'alerts' && levels[1] !== 'incidents') {
            showStatus(sensor(levels[1]), payload.trim());
        } else if (topic === topics.alerts) {
            const a = parse(payload);
            if (a) onAlert(a);
        } else if (topic === topics.escalation || topic === topics.incidents) {
            const r = parse(payload);
            if (r) onIncident(r);
        }
    }

    function tick() {
        const now = Date.now();
        for (const s of sensors.values())
            if (s.at) text(s.card.querySelector('.age'), age(now - s.at));
    }

    function connect(url, username, password) {
        if (client) client.end(true);
        user = username;
        setState('connecting', `Connecting to ${url}…`);
        const c = mqtt.connect(url, {
            username,
            password,
            clientId: `dht-page-${Math.random().toString(16).slice(2, 10)}`,
            clean: true,
            protocolVersion: 4,
            reconnectPeriod: 2000,
            connectTimeout: 5000,
        });
        client = c;
        c.on('connect', () => {
            if (client !== c) return;
            setState('connected', `Connected to ${url} as ${username}`);
            c.subscribe({
                [topics.data]: {qos: 0}, [topics.status]: {qos: 0}, [topics.alerts]: {qos: 1},
                [topics.escalation]: {qos: 1}, [topics.incidents]: {qos: 1},
            });
        });
        c.on('message', (topic, message) => {
            if (client === c) onMessage(topic, message);
        });
        c.on('error', (err) => {
            if (client !== c) return;
            // A refused login does not get better by itself: stop and say so.
            if (err && (err.code === 4 || err.code === 5)) {
                c.end(true);
                client = null;
                setState('refused', `The broker refused the login of ${username}: check the user and password`);
            }
        });
        c.on('offline', () => {
            if (client === c) setState('lost', 'Connection lost: reconnecting…');
        });
        c.on('close', () => {
            if (client === c && $('state').dataset.state === 'connecting')
                setState('lost', `Cannot reach ${url}: retrying…`);
        });
    }

    function start() {
        const stored = (k) => { try { return localStorage.getItem(k) || ''; } catch { return ''; } };
        $('url').value = stored('dht-operator-url') || `ws://${location.hostname || 'localhost'}:9001`;
        $('user').value = stored('dht-operator-user');
        $('login').addEventListener('submit', (e) => {
            e.preventDefault();
            const url = $('url').value.trim(), username = $('user').value.trim();
            try {
                localStorage.setItem('dht-operator-url', url);
                localStorage.setItem('dht-operator-user', username);
            } catch { /* private browsing: nothing remembered */ }
            connect(url, username, $('password').value);
        });
        $('disconnect').addEventListener('click', () => {
            if (client) client.end(true);
            client = null;
            setState('idle', 'Disconnected');
        });
        if (typeof mqtt === 'undefined') {
            setState('broken', 'mqtt.min.js is missing next to this page: see dht-stats(1)');
            $('connect').disabled = true;
            return;
        }
        setInterval(tick, 1000);
        setInterval(() => { for (const s of sensors.values()) drawTrend(s); }, 60000);
    }

    start();
})();

// A headless Chromium driven over the DevTools protocol (on a pipe: no
// network port, no npm package), for shell tests. Usage:
//   node cdp.js CHROMIUM URL WIDTH HEIGHT
// then one command a line on stdin, one JSON answer a line on stdout:
//   eval EXPR        the value of EXPR in the page (promises awaited)
//   wait SECS EXPR   EXPR again until it is truthy, up to SECS: {"ok":true,"value":...}
//                    or {"ok":false,"value":LAST}
//   shot FILE        a PNG screenshot of the page into FILE
//   quit
// Console messages and exceptions of the page go to stderr.
'use strict';
const {spawn} = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const [chromium, url, width, height] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cdp-'));
const args = ['--headless', '--remote-debugging-pipe', '--no-first-run', '--no-default-browser-check',
    '--disable-gpu', '--disable-extensions', '--disable-background-networking', `--user-data-dir=${profile}`,
    `--window-size=${width},${height}`];
if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
const browser = spawn(chromium, [...args, 'about:blank'], {stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe']});
const toBrowser = browser.stdio[3], fromBrowser = browser.stdio[4];

let nextId = 1, session = null, buffered = '';
const pending = new Map();
function send(method, params = {}, withSession = true) {
    const id = nextId++;
    const msg = {id, method, params};
    if (withSession && session) msg.sessionId = session;
    toBrowser.write(JSON.stringify(msg) + '\0');
    return new Promise((resolve, reject) => pending.set(id, {resolve, reject, method}));
}
fromBrowser.on('data', (chunk) => {
    buffered += chunk.toString('utf8');
    let end;
    while ((end = buffered.indexOf('\0')) >= 0) {
        const msg = JSON.parse(buffered.slice(0, end));
        buffered = buffered.slice(end + 1);
        if (msg.id && pending.has(msg.id)) {
            const p = pending.get(msg.id);
            pending.delete(msg.id);
            if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
            else p.resolve(msg.result);
        } else if (msg.method === 'Runtime.consoleAPICalled') {
            process.stderr.write(`page console.${msg.params.type}: ${msg.params.args.map((a) => a.value ?? a.description).join(' ')}\n`);
        } else if (msg.method === 'Runtime.exceptionThrown') {
            const d = msg.params.exceptionDetails;
            process.stderr.write(`page exception: ${d.exception ? d.exception.description : d.text}\n`);
        } else if (msg.method === 'Log.entryAdded') {
            process.stderr.write(`page log ${msg.params.entry.level}: ${msg.params.entry.text}\n`);
        }
    }
});
browser.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`chromium exited ${code}`));
    pending.clear();
});

async function evaluate(expression) {
    const r = await send('Runtime.evaluate', {expression, returnByValue: true, awaitPromise: true});
    if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description || r.exceptionDetails.text);
    return r.result.value;
}

async function command(line) {
    const [verb] = line.split(' ', 1);
    const rest = line.slice(verb.length + 1);
    if (verb === 'eval') return {ok: true, value: await evaluate(rest)};
    if (verb === 'wait') {
        const secs = parseFloat(rest);
        const expr = rest.slice(rest.indexOf(' ') + 1);
        const until = Date.now() + secs * 1000;
        let value;
        for (;;) {
            try { value = await evaluate(expr); } catch (e) { value = `error: ${e.message}`; }
            if (value && !(typeof value === 'string' && value.startsWith('error: '))) return {ok: true, value};
            if (Date.now() > until) return {ok: false, value};
            await new Promise((r) => setTimeout(r, 100));
        }
    }
    if (verb === 'shot') {
        const r = await send('Page.captureScreenshot', {format: 'png', captureBeyondViewport: true});
        fs.writeFileSync(rest, Buffer.from(r.data, 'base64'));
        return {ok: true};
    }
    throw new Error(`unknown command: ${verb}`);
}

async function main() {
    const {targetInfos} = await send('Target.getTargets', {}, false);
    const page = targetInfos.find((t) => t.type === 'page');
    ({sessionId: session} = await send('Target.attachToTarget', {targetId: page.targetId, flatten: true}, false));
    await send('Runtime.enable');
    await send('Log.enable');
    await send('Page.enable');
    await send('Emulation.setDeviceMetricsOverride',
        {width: Number(width), height: Number(height), deviceScaleFactor: 1, mobile: Number(width) < 600});
    await send('Page.navigate', {url});
    const lines = readline.createInterface({input: process.stdin});
    for await (const line of lines) {
        if (line === 'quit') break;
        let answer;
        try { answer = await command(line); } catch (e) { answer = {ok: false, error: e.message}; }
        process.stdout.write(JSON.stringify(answer) + '\n');
    }
}

// Stopped by the test's cleanup: the browser goes too.
process.on('SIGTERM', () => {
    browser.kill('SIGKILL');
    fs.rmSync(profile, {recursive: true, force: true});
    process.exit(143);
});

main().catch((e) => {
    process.stderr.write(`cdp: ${e.message}\n`);
    process.exitCode = 1;
}).finally(() => {
    browser.kill('SIGTERM');
    setTimeout(() => {
        browser.kill('SIGKILL');
        fs.rmSync(profile, {recursive: true, force: true});
        process.exit();
    }, 300).unref();
    browser.on('exit', () => {
        fs.rmSync(profile, {recursive: true, force: true});
        process.exit();
    });
});

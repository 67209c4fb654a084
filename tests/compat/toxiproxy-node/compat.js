// Toxiproxy compatibility proof (issue 6): drives `bombarder proxy` with Toxiproxy's own Node
// client, toxiproxy-node-client, through its public calls only, and asserts what the client
// hands back. Where the client hides a detail (it turns every non-2xx answer into
// "Request failed with status code N" and drops the body), a plain fetch checks Toxiproxy's error
// shape {"error": "...", "status": N}. A local echo server is the upstream, so toxics are
// checked by their effect on real traffic too, not only by what the API says.
//
// Usage: node compat.js http://127.0.0.1:PORT   (exit 0: compatible; 1: the first mismatch)
"use strict";

const assert = require("node:assert/strict");
const net = require("node:net");
const { Toxiproxy, Toxic, Proxy } = require("toxiproxy-node-client");

const api = process.argv[2];
if (!api || !/^http:\/\/[^/]+$/.test(api)) {
  console.error("usage: node compat.js http://HOST:PORT");
  process.exit(2);
}

// Every socket wait below is bounded, so a hung proxy fails the run instead of stalling it.
const kIoTimeoutMs = 5000;

function startEchoServer() {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.pipe(socket);
    });
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

function hostPort(listen) {
  const colon = listen.lastIndexOf(":");
  return { host: listen.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(listen.slice(colon + 1)) };
}

// Sends `text` through the proxy listening on `listen` and resolves with the echo and the
// round-trip time in ms; rejects on a connection error or after kIoTimeoutMs.
function roundTrip(listen, text) {
  return new Promise((resolve, reject) => {
    const { host, port } = hostPort(listen);
    const started = process.hrtime.bigint();
    const socket = net.connect({ host, port });
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no echo from ${listen} within ${kIoTimeoutMs} ms`));
    }, kIoTimeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(text));
    socket.on("data", (chunk) => {
      received += chunk;
      if (received.length >= text.length) {
        clearTimeout(timer);
        const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
        socket.end();
        resolve({ received, elapsedMs });
      }
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// Sends `text` through `listen` and keeps the connection: quiet(ms) resolves if nothing came
// back for `ms` (rejects otherwise); `rest` resolves with the echo once it has all arrived.
function heldEcho(listen, text) {
  const { host, port } = hostPort(listen);
  const socket = net.connect({ host, port });
  let received = "";
  socket.setEncoding("utf8");
  socket.on("connect", () => socket.write(text));
  const rest = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`held data never arrived through ${listen}`));
    }, kIoTimeoutMs);
    socket.on("data", (chunk) => {
      received += chunk;
      if (received.length >= text.length) {
        clearTimeout(timer);
        socket.end();
        resolve(received);
      }
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  rest.catch(() => {});  // awaited by the caller; no unhandled rejection meanwhile
  const quiet = (ms) => new Promise((resolve, reject) => {
    setTimeout(() => (received.length === 0 ? resolve() : reject(new Error(
        `data passed a timeout 0 toxic: ${JSON.stringify(received)}`))), ms);
  });
  return { quiet, rest };
}

// Resolves with the error code of a connection attempt ("ECONNREFUSED", ...), or "connected".
function connectOutcome(listen) {
  return new Promise((resolve) => {
    const { host, port } = hostPort(listen);
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve("timeout");
    }, kIoTimeoutMs);
    socket.on("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      resolve(err.code);
    });
  });
}

// The client's calls reject with ToxiproxyError("Request failed with status code N").
async function expectStatus(promise, status, what) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.constructor.name, "ToxiproxyError", `${what}: ${err}`);
    assert.match(err.message, new RegExp(`status code ${status}$`), what);
    return true;
  }, what);
}

// Toxiproxy's error shape, read with a plain fetch because the client drops error bodies.
// `extraKeys`: /populate also answers the proxies it created before the error, as Toxiproxy.
async function expectErrorShape(method, path, body, status, message, extraKeys = []) {
  const init = { method };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers = { "Content-Type": "application/json" };
  }
  const res = await fetch(api + path, init);
  const text = await res.text();
  assert.equal(res.status, status, `${method} ${path}: ${text}`);
  assert.match(res.headers.get("content-type") || "", /^application\/json/, `${method} ${path}`);
  const parsed = JSON.parse(text);
  assert.deepEqual(Object.keys(parsed).sort(), ["error", "status", ...extraKeys].sort(),
                   `${method} ${path}: ${text}`);
  assert.equal(parsed.status, status, `${method} ${path}: ${text}`);
  assert.equal(typeof parsed.error, "string");
  if (message instanceof RegExp) {
    assert.match(parsed.error, message, `${method} ${path}: ${text}`);
  } else {
    assert.equal(parsed.error, message, `${method} ${path}: ${text}`);
  }
}

function checkToxic(toxic, want) {
  assert.ok(toxic instanceof Toxic);
  assert.deepEqual(toxic.toJson(), want);
}

async function main() {
  const echo = await startEchoServer();
  const upstream = `127.0.0.1:${echo.address().port}`;
  const toxiproxy = new Toxiproxy(api);
  let step = "start";
  const at = (name) => {
    step = name;
    console.log(`- ${name}`);
  };
  try {
    at("getVersion answers Toxiproxy 2.x's {\"version\": ...}");
    const version = JSON.parse(await toxiproxy.getVersion());
    assert.equal(typeof version.version, "string");
    assert.match(version.version, /^2\./);

    at("createProxy: 201 with name, listen (the bound port), upstream, enabled");
    const proxy = await toxiproxy.createProxy({ name: "echo", listen: "localhost:0", upstream });
    assert.ok(proxy instanceof Proxy);
    assert.equal(proxy.name, "echo");
    assert.equal(proxy.upstream, upstream);
    assert.equal(proxy.enabled, true);
    assert.match(proxy.listen, /^127\.0\.0\.1:\d+$/, "localhost:0 binds IPv4 loopback as Go does");
    assert.notEqual(hostPort(proxy.listen).port, 0);
    const clean = await roundTrip(proxy.listen, "hello through the proxy");
    assert.equal(clean.received, "hello through the proxy");

    at("createProxy with a taken name: 409 proxy already exists");
    await expectStatus(toxiproxy.createProxy({ name: "echo", listen: "127.0.0.1:0", upstream }),
                       409, "duplicate proxy");
    await expectErrorShape("POST", "/proxies", { name: "echo", listen: "127.0.0.1:0", upstream },
                           409, "proxy already exists");

    at("createProxy without name / upstream, or with a bad body: 400");
    await expectStatus(toxiproxy.createProxy({ listen: "127.0.0.1:0", upstream }), 400, "no name");
    await expectErrorShape("POST", "/proxies", { name: "x", listen: "127.0.0.1:0" }, 400,
                           "missing required field: upstream");
    await expectErrorShape("POST", "/proxies", { listen: "127.0.0.1:0", upstream }, 400,
                           "missing required field: name");
    await expectErrorShape("POST", "/proxies", "{not json", 400, /^bad request body: /);

    at("get / getAll return the same proxy");
    const got = await toxiproxy.get("echo");
    assert.deepEqual(got.toJson(), proxy.toJson());
    const all = await toxiproxy.getAll();
    assert.deepEqual(Object.keys(all), ["echo"]);
    assert.deepEqual(all.echo.toJson(), proxy.toJson());

    at("get of an unknown proxy: 404 proxy not found");
    await expectStatus(toxiproxy.get("nope"), 404, "unknown proxy");
    await expectErrorShape("GET", "/proxies/nope", undefined, 404, "proxy not found");
    await expectErrorShape("GET", "/proxies/nope/toxics", undefined, 404, "proxy not found");
    await expectErrorShape("POST", "/proxies/nope/toxics", { type: "latency" }, 404,
                           "proxy not found");

    at("addToxic latency (defaults: downstream, toxicity 1, name type_stream) delays the echo");
    const latency = await proxy.addToxic({ type: "latency", attributes: { latency: 300 } });
    checkToxic(latency, {
      name: "latency_downstream", type: "latency", stream: "downstream", toxicity: 1,
      attributes: { latency: 300, jitter: 0 },
    });
    const slow = await roundTrip(proxy.listen, "slow");
    assert.ok(slow.elapsedMs >= 290, `latency 300 ms, round trip ${slow.elapsedMs} ms`);

    at("getToxic returns it; Toxic.update changes one attribute and keeps the rest");
    checkToxic(await proxy.getToxic("latency_downstream"), latency.toJson());
    const updated = await latency.update({ attributes: { jitter: 5 } });
    checkToxic(updated, { ...latency.toJson(), attributes: { latency: 300, jitter: 5 } });
    const lowered = await updated.update({ attributes: { latency: 0, jitter: 0 } });
    assert.deepEqual(lowered.attributes, { latency: 0, jitter: 0 });
    const fast = await roundTrip(proxy.listen, "fast again");
    assert.ok(fast.elapsedMs < 250, `latency updated to 0, round trip ${fast.elapsedMs} ms`);
    const partial = await lowered.update({ toxicity: 0.5 });
    assert.equal(partial.toxicity, 0.5);
    assert.deepEqual(partial.attributes, { latency: 0, jitter: 0 });

    at("addToxic of every type on either stream, with toxicity, echoes Toxiproxy's fields");
    const cases = [
      { name: "bw_up", type: "bandwidth", stream: "upstream", toxicity: 0.25,
        attributes: { rate: 100 } },
      { name: "slow_close_down", type: "slow_close", stream: "downstream", toxicity: 1,
        attributes: { delay: 10 } },
      { name: "timeout_up", type: "timeout", stream: "upstream", toxicity: 0,
        attributes: { timeout: 1000 } },
      { name: "reset_down", type: "reset_peer", stream: "downstream", toxicity: 0,
        attributes: { timeout: 50 } },
      { name: "slicer_down", type: "slicer", stream: "downstream", toxicity: 0.75,
        attributes: { average_size: 64, size_variation: 32, delay: 10 } },
      { name: "limit_up", type: "limit_data", stream: "upstream", toxicity: 0,
        attributes: { bytes: 1024 } },
      { name: "loss_down", type: "packet_loss", stream: "downstream", toxicity: 0,
        attributes: { probability: 0.5, correlation: 0.25 } },
    ];
    for (const want of cases) {
      checkToxic(await proxy.addToxic(want), want);
    }
    const listed = await (await fetch(`${api}/proxies/echo/toxics`)).json();
    assert.deepEqual(listed.map((t) => t.name).sort(),
                     ["latency_downstream", ...cases.map((c) => c.name)].sort());
    assert.equal((await toxiproxy.get("echo")).name, "echo");
    const shown = await (await fetch(`${api}/proxies/echo`)).json();
    assert.equal(shown.toxics.length, cases.length + 1, "GET /proxies/{name} lists its toxics");

    at("addToxic errors: 409 taken name, 400 unknown type / stream / bad attribute");
    await expectStatus(proxy.addToxic({ type: "latency" }), 409, "duplicate toxic");
    await expectErrorShape("POST", "/proxies/echo/toxics", { type: "latency" }, 409,
                           "toxic already exists");
    await expectStatus(proxy.addToxic({ type: "no_such_toxic" }), 400, "unknown type");
    await expectErrorShape("POST", "/proxies/echo/toxics", { type: "no_such_toxic" }, 400,
                           "invalid toxic type");
    await expectErrorShape("POST", "/proxies/echo/toxics", { type: "latency", stream: "sideways" },
                           400, "stream was invalid, can be either upstream or downstream");
    await expectErrorShape("POST", "/proxies/echo/toxics",
                           { name: "bad", type: "latency", attributes: { latency: "slow" } }, 400,
                           /^bad request body: /);
    await expectErrorShape("POST", "/proxies/echo/toxics", "[1,", 400, /^bad request body: /);

    at("getToxic / update / remove of an unknown toxic: 404 toxic not found");
    await expectStatus(proxy.getToxic("nope"), 404, "unknown toxic");
    await expectErrorShape("GET", "/proxies/echo/toxics/nope", undefined, 404, "toxic not found");
    await expectErrorShape("POST", "/proxies/echo/toxics/nope", { toxicity: 1 }, 404,
                           "toxic not found");
    await expectErrorShape("DELETE", "/proxies/echo/toxics/nope", undefined, 404,
                           "toxic not found");

    at("Toxic.remove deletes it (204), a second remove is 404");
    const bw = await proxy.getToxic("bw_up");
    await bw.remove();
    await expectStatus(proxy.getToxic("bw_up"), 404, "removed toxic");
    await expectStatus(bw.remove(), 404, "second remove");

    at("Proxy.update disables the proxy (connections refused), then enables it again");
    const disabled = await proxy.update({ ...proxy.toJson(), enabled: false });
    assert.equal(disabled.enabled, false);
    assert.equal((await toxiproxy.get("echo")).enabled, false);
    assert.equal(await connectOutcome(proxy.listen), "ECONNREFUSED");
    const enabled = await disabled.update({ ...disabled.toJson(), enabled: true });
    assert.equal(enabled.enabled, true);
    assert.equal(enabled.listen, proxy.listen, "re-enabling keeps the listen address");
    await expectErrorShape("POST", "/proxies/nope", { enabled: false }, 404, "proxy not found");
    await expectErrorShape("POST", "/proxies/echo", "{", 400, /^bad request body: /);

    at("reset: every toxic removed, every proxy enabled, traffic clean");
    await enabled.update({ ...enabled.toJson(), enabled: false });
    await toxiproxy.reset();
    const afterReset = await toxiproxy.get("echo");
    assert.equal(afterReset.enabled, true);
    assert.deepEqual(await (await fetch(`${api}/proxies/echo/toxics`)).json(), []);
    const healed = await roundTrip(afterReset.listen, "clean after reset");
    assert.equal(healed.received, "clean after reset");
    assert.ok(healed.elapsedMs < 250, `after reset, round trip ${healed.elapsedMs} ms`);

    at("timeout 0 holds data back on an open connection and delivers it once removed");
    const stall = await afterReset.addToxic({ type: "timeout", attributes: { timeout: 0 } });
    checkToxic(stall, {
      name: "timeout_downstream", type: "timeout", stream: "downstream", toxicity: 1,
      attributes: { timeout: 0 },
    });
    const held = heldEcho(afterReset.listen, "held back");
    await held.quiet(300);
    await stall.remove();
    assert.equal(await held.rest, "held back");

    at("PATCH updates like POST (Toxiproxy 2.6+ clients use it)");
    const patched = await fetch(`${api}/proxies/echo`, {
      method: "PATCH", body: JSON.stringify({ enabled: true }),
      headers: { "Content-Type": "application/json" },
    });
    assert.equal(patched.status, 200);
    assert.equal((await patched.json()).enabled, true);

    at("populate creates several proxies at once (201 {proxies: [...]}), and is idempotent");
    const populated = await toxiproxy.populate([
      { name: "pop_a", listen: "127.0.0.1:0", upstream },
      { name: "pop_b", listen: "127.0.0.1:0", upstream, enabled: false },
    ]);
    assert.deepEqual(Object.keys(populated).sort(), ["pop_a", "pop_b"]);
    assert.equal(populated.pop_a.enabled, true);
    assert.equal(populated.pop_b.enabled, false);
    assert.equal((await roundTrip(populated.pop_a.listen, "a")).received, "a");
    const again = await toxiproxy.populate([
      { name: "pop_a", listen: populated.pop_a.listen, upstream },
    ]);
    assert.equal(again.pop_a.listen, populated.pop_a.listen, "unchanged proxy kept");
    assert.deepEqual(Object.keys(await toxiproxy.getAll()).sort(), ["echo", "pop_a", "pop_b"]);
    await expectStatus(toxiproxy.populate([{ name: "pop_c", listen: "127.0.0.1:0" }]), 400,
                       "populate without upstream");
    await expectErrorShape("POST", "/populate", { name: "not an array" }, 400,
                           /^bad request body: /, ["proxies"]);
    await expectErrorShape("POST", "/populate", [{ listen: "127.0.0.1:0", upstream }], 400,
                           "missing required field: name at proxy 1", ["proxies"]);

    at("Proxy.remove deletes it (204), a second remove is 404");
    await populated.pop_b.remove();
    await expectStatus(toxiproxy.get("pop_b"), 404, "removed proxy");
    await expectStatus(populated.pop_b.remove(), 404, "second proxy remove");
    await expectErrorShape("DELETE", "/proxies/pop_b", undefined, 404, "proxy not found");
    assert.equal(await connectOutcome(populated.pop_b.listen), "ECONNREFUSED");

    at("a browser's User-Agent is refused (403), as Toxiproxy does against CSRF");
    const browser = await fetch(`${api}/proxies`, { headers: { "User-Agent": "Mozilla/5.0" } });
    assert.equal(browser.status, 403);

    for (const name of Object.keys(await toxiproxy.getAll())) {
      await (await toxiproxy.get(name)).remove();
    }
    assert.deepEqual(await toxiproxy.getAll(), {});
    console.log("toxiproxy-node-client compatibility: all checks passed");
  } catch (err) {
    console.error(`MISMATCH at step "${step}":`);
    console.error(err && err.stack ? err.stack : err);
    process.exitCode = 1;
  } finally {
    echo.close();
  }
}

main().then(() => process.exit(process.exitCode || 0));

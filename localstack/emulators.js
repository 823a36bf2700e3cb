'use strict'
// One node process for the Docker-free AWS emulators of the local stack:
//
//   kinesalite  (Kinesis)   127.0.0.1:$KINESIS_PORT   (default 14567)
//   dynalite    (DynamoDB)  127.0.0.1:$DYNAMODB_PORT  (default 14568)
//   router                  127.0.0.1:$AWS_PORT       (default 4566)
//
// The router forwards each request, byte for byte, to kinesalite or dynalite
// according to the prefix of its X-Amz-Target header. That gives a single
// endpoint, like LocalStack's edge port (also 4566), so the application only
// ever needs AWS_ENDPOINT_URL=http://127.0.0.1:4566 whichever stack is used.
//
// Both emulators keep their data in memory: a restart starts empty, and
// up.sh (resources.js) re-creates the stream and the table.
//
// The pidfile is written only once all three ports listen, so up.sh can use
// its appearance as the readiness signal. It is removed on SIGTERM/SIGINT.

const http = require('http')
const fs = require('fs')
const path = require('path')
const kinesalite = require('kinesalite')
const dynalite = require('dynalite')

const HOST = '127.0.0.1' // loopback only, never 0.0.0.0

function portFromEnv (name, fallback) {
  const raw = process.env[name] || String(fallback)
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`emulators: ${name}=${raw} is not a valid port`)
    process.exit(2)
  }
  return port
}

const KINESIS_PORT = portFromEnv('KINESIS_PORT', 14567)
const DYNAMODB_PORT = portFromEnv('DYNAMODB_PORT', 14568)
const AWS_PORT = portFromEnv('AWS_PORT', 4566)
const STATE_DIR = process.env.FLASHSALE_STATE_DIR || '/var/tmp/flashsale'
const PID_FILE = process.env.EMULATORS_PIDFILE || path.join(STATE_DIR, 'aws', 'emulators.pid')

// X-Amz-Target prefixes of the two JSON-protocol services we emulate.
const ROUTES = [
  { prefix: 'Kinesis_20131202.', port: KINESIS_PORT, service: 'kinesis' },
  { prefix: 'DynamoDB_20120810.', port: DYNAMODB_PORT, service: 'dynamodb' }
]

// Hop-by-hop headers belong to one connection, not to the message, so a
// proxy must not pass them on (RFC 9110 §7.6.1). "expect" is answered by our
// own server already (node sends the 100 Continue). Everything else,
// including Host, Authorization and X-Amz-*, is forwarded untouched so a
// SigV4 signature computed by the client stays valid.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate',
  'proxy-authorization', 'te', 'trailer', 'upgrade', 'expect'
])

// Filters a rawHeaders array ([name, value, name, value, ...]), keeping the
// original spelling and order of the header names.
function endToEndHeaders (rawHeaders) {
  const dropped = new Set(HOP_BY_HOP)
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'connection') {
      for (const token of rawHeaders[i + 1].split(',')) dropped.add(token.trim().toLowerCase())
    }
  }
  const kept = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!dropped.has(rawHeaders[i].toLowerCase())) kept.push(rawHeaders[i], rawHeaders[i + 1])
  }
  return kept
}

// Errors in the shape of the AWS JSON protocol, so SDKs can decode them.
function sendAwsError (res, status, type, message) {
  const body = JSON.stringify({ __type: type, message })
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.1',
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-ErrorType': type
  })
  res.end(body)
}

// Keep-alive to the emulators: the router adds one hop per request, and
// reusing connections keeps that hop cheap under load tests.
const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity })

function forward (req, res, route) {
  const upstream = http.request({
    host: HOST,
    port: route.port,
    method: req.method,
    path: req.url,
    headers: endToEndHeaders(req.rawHeaders),
    agent: upstreamAgent
  }, (upRes) => {
    res.writeHead(upRes.statusCode, upRes.statusMessage, endToEndHeaders(upRes.rawHeaders))
    upRes.pipe(res)
  })
  upstream.on('error', (err) => {
    if (!res.headersSent) {
      sendAwsError(res, 502, 'ServiceUnavailableException',
        `${route.service} emulator on ${HOST}:${route.port} failed: ${err.message}`)
    } else {
      res.destroy(err)
    }
  })
  // If the client goes away before the answer is complete, drop the upstream
  // request too instead of leaving it half-open.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy()
  })
  req.pipe(upstream)
}

function route (req, res) {
  // LocalStack-compatible health check, so scripts that probe
  // /_localstack/health work against this stack as well.
  if (req.method === 'GET' && req.url.split('?')[0] === '/_localstack/health') {
    const body = JSON.stringify({ services: { dynamodb: 'running', kinesis: 'running' }, edition: 'flashsale-local' })
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
    res.end(body)
    return
  }
  const target = String(req.headers['x-amz-target'] || '')
  const match = ROUTES.find((r) => target.startsWith(r.prefix))
  if (!match) {
    req.resume() // discard the body so the connection can be reused
    sendAwsError(res, 400, 'UnknownOperationException',
      `unsupported X-Amz-Target "${target}": this endpoint serves only ` +
      ROUTES.map((r) => r.prefix + '*').join(' and '))
    return
  }
  forward(req, res, match)
}

function listen (server, port, name) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, HOST, () => {
      server.removeListener('error', reject)
      resolve()
    })
  }).catch((err) => {
    throw new Error(`${name} cannot listen on ${HOST}:${port}: ${err.message}`)
  })
}

function removePidFile () {
  try {
    if (fs.readFileSync(PID_FILE, 'utf8').trim() === String(process.pid)) fs.unlinkSync(PID_FILE)
  } catch (_) { /* already gone */ }
}

// kinesalite rethrows errors of aborted client requests from inside its
// request handler; in a long-running dev emulator one client hanging up must
// not take the whole process down. Anything else is a real bug: log and exit.
process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.message === 'aborted')) {
    console.error(`emulators: ignored client disconnect: ${err.message}`)
    return
  }
  console.error('emulators: fatal:', err)
  removePidFile()
  process.exit(1)
})

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    removePidFile()
    process.exit(0)
  })
}

async function main () {
  const kinesis = kinesalite({ createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50 })
  const dynamo = dynalite({ createTableMs: 50, deleteTableMs: 50, updateTableMs: 50 })
  const router = http.createServer(route)
  router.keepAliveTimeout = 65000 // longer than typical SDK idle timeouts

  await listen(kinesis, KINESIS_PORT, 'kinesalite')
  await listen(dynamo, DYNAMODB_PORT, 'dynalite')
  await listen(router, AWS_PORT, 'router')

  fs.mkdirSync(path.dirname(PID_FILE), { recursive: true })
  const tmp = `${PID_FILE}.${process.pid}.tmp`
  fs.writeFileSync(tmp, `${process.pid}\n`)
  fs.renameSync(tmp, PID_FILE) // atomic: readers never see a partial pidfile
  console.log(`${new Date().toISOString()} emulators: pid ${process.pid}; ` +
    `kinesalite ${HOST}:${KINESIS_PORT}, dynalite ${HOST}:${DYNAMODB_PORT}, router ${HOST}:${AWS_PORT}`)
}

main().catch((err) => {
  console.error(`${new Date().toISOString()} emulators: ${err.message}`)
  process.exit(1)
})

'use strict'
// Creates, if absent, the AWS resources the flash-sale backend expects, and
// waits until they are ACTIVE:
//
//   Kinesis stream  $EVENTS_STREAM (default flash-sale-events), 1 shard
//   DynamoDB table  $EVENTS_TABLE  (default flash_sale_events),
//                   sale_id (S) partition key, sk (S) sort key, on-demand
//
// It speaks the AWS JSON protocol over plain HTTP with SigV4-signed requests,
// so no AWS CLI or SDK is needed, and it works against the router of
// emulators.js as well as against LocalStack.
//
// Usage: node resources.js [--endpoint http://127.0.0.1:4566] [--verbose]
//
// The endpoint comes from the flag or from AWS_PORT, never from an inherited
// AWS_ENDPOINT_URL: a stray value there must not make a local setup script
// create resources in some other account or on some other host.

const http = require('http')
const crypto = require('crypto')

const args = process.argv.slice(2)
const verbose = args.includes('--verbose')
const endpointFlag = args.indexOf('--endpoint')
const endpoint = new URL(endpointFlag >= 0 && args[endpointFlag + 1]
  ? args[endpointFlag + 1]
  : `http://127.0.0.1:${process.env.AWS_PORT || 4566}`)
if (endpoint.protocol !== 'http:') {
  console.error(`resources: only http:// endpoints are supported, got ${endpoint.href}`)
  process.exit(2)
}

const REGION = process.env.AWS_REGION || 'us-east-1'
const ACCESS_KEY = process.env.AWS_ACCESS_KEY_ID || 'test'
const SECRET_KEY = process.env.AWS_SECRET_ACCESS_KEY || 'test'
const STREAM = process.env.EVENTS_STREAM || 'flash-sale-events'
const TABLE = process.env.EVENTS_TABLE || 'flash_sale_events'
const TIMEOUT_MS = 20000

const SERVICES = {
  kinesis: { target: 'Kinesis_20131202', contentType: 'application/x-amz-json-1.1' },
  dynamodb: { target: 'DynamoDB_20120810', contentType: 'application/x-amz-json-1.0' }
}

const log = (msg) => { if (verbose) console.log(`resources: ${msg}`) }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex')
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest()

// AWS Signature Version 4 for a POST to "/". Emulators do not verify it, but
// they (and LocalStack) require a well-formed Authorization header, and
// LocalStack reads the region and access key from it.
function sign (service, headers, body) {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
  const day = amzDate.slice(0, 8)
  headers['x-amz-date'] = amzDate
  const names = Object.keys(headers).map((h) => h.toLowerCase()).sort()
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v).trim()]))
  const canonicalHeaders = names.map((h) => `${h}:${lower[h]}\n`).join('')
  const signedHeaders = names.join(';')
  const canonicalRequest = ['POST', '/', '', canonicalHeaders, signedHeaders, sha256(body)].join('\n')
  const scope = `${day}/${REGION}/${service}/aws4_request`
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n')
  let key = hmac(`AWS4${SECRET_KEY}`, day)
  for (const part of [REGION, service, 'aws4_request']) key = hmac(key, part)
  const signature = crypto.createHmac('sha256', key).update(stringToSign).digest('hex')
  headers.Authorization = `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/${scope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`
}

// One AWS JSON call. Resolves to { status, data } for any HTTP answer, so the
// caller decides which error types are expected.
function call (service, operation, payload) {
  const { target, contentType } = SERVICES[service]
  const body = JSON.stringify(payload)
  const headers = {
    Host: endpoint.host,
    'Content-Type': contentType,
    'X-Amz-Target': `${target}.${operation}`
  }
  sign(service, headers, body)
  headers['Content-Length'] = Buffer.byteLength(body)
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: endpoint.hostname,
      port: endpoint.port || 80,
      method: 'POST',
      path: '/',
      headers,
      timeout: 5000
    }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let data = {}
        try { data = text ? JSON.parse(text) : {} } catch (_) { data = { __type: 'NonJsonResponse', message: text.slice(0, 200) } }
        resolve({ status: res.statusCode, data })
      })
    })
    req.on('timeout', () => req.destroy(new Error(`${operation} timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

// "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException" and plain
// "ResourceNotFoundException" both count.
const isError = (res, type) => res.status >= 400 && String(res.data.__type || '').endsWith(type)

function fail (what, res) {
  return new Error(`${what}: HTTP ${res.status} ${res.data.__type || ''} ${res.data.message || res.data.Message || ''}`.trim())
}

async function waitFor (what, check) {
  const deadline = Date.now() + TIMEOUT_MS
  for (;;) {
    const status = await check()
    if (status === 'ACTIVE') return
    if (Date.now() > deadline) throw new Error(`${what} still ${status} after ${TIMEOUT_MS} ms`)
    await sleep(50)
  }
}

async function ensureStream () {
  const describe = () => call('kinesis', 'DescribeStreamSummary', { StreamName: STREAM })
  let res = await describe()
  if (isError(res, 'ResourceNotFoundException')) {
    log(`creating Kinesis stream ${STREAM}`)
    const created = await call('kinesis', 'CreateStream', { StreamName: STREAM, ShardCount: 1 })
    // ResourceInUseException: someone else created it meanwhile; fine.
    if (created.status !== 200 && !isError(created, 'ResourceInUseException')) throw fail(`CreateStream ${STREAM}`, created)
  } else if (res.status !== 200) {
    throw fail(`DescribeStreamSummary ${STREAM}`, res)
  }
  await waitFor(`stream ${STREAM}`, async () => {
    res = await describe()
    if (res.status !== 200) throw fail(`DescribeStreamSummary ${STREAM}`, res)
    return res.data.StreamDescriptionSummary.StreamStatus
  })
  log(`Kinesis stream ${STREAM} is ACTIVE`)
}

const WANTED_KEYS = [
  { AttributeName: 'sale_id', KeyType: 'HASH' },
  { AttributeName: 'sk', KeyType: 'RANGE' }
]

async function ensureTable () {
  const describe = () => call('dynamodb', 'DescribeTable', { TableName: TABLE })
  let res = await describe()
  if (isError(res, 'ResourceNotFoundException')) {
    log(`creating DynamoDB table ${TABLE}`)
    const created = await call('dynamodb', 'CreateTable', {
      TableName: TABLE,
      AttributeDefinitions: [
        { AttributeName: 'sale_id', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' }
      ],
      KeySchema: WANTED_KEYS,
      BillingMode: 'PAY_PER_REQUEST'
    })
    if (created.status !== 200 && !isError(created, 'ResourceInUseException')) throw fail(`CreateTable ${TABLE}`, created)
  } else if (res.status !== 200) {
    throw fail(`DescribeTable ${TABLE}`, res)
  }
  await waitFor(`table ${TABLE}`, async () => {
    res = await describe()
    if (res.status !== 200) throw fail(`DescribeTable ${TABLE}`, res)
    return res.data.Table.TableStatus
  })
  // A table left over with another key schema would make every write fail
  // later in a confusing way; say so now.
  const keys = JSON.stringify(res.data.Table.KeySchema)
  if (keys !== JSON.stringify(WANTED_KEYS)) {
    throw new Error(`table ${TABLE} exists with key schema ${keys}, expected ${JSON.stringify(WANTED_KEYS)}; delete it and re-run`)
  }
  log(`DynamoDB table ${TABLE} is ACTIVE`)
}

Promise.all([ensureStream(), ensureTable()]).catch((err) => {
  console.error(`resources: ${err.message} (endpoint ${endpoint.origin})`)
  process.exit(1)
})

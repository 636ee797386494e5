// An aedes broker for the shell tests: node broker.mjs PORT DATA_DIR serves
// MQTT on 127.0.0.1:PORT, anonymous clients allowed, sessions, queued messages
// and retained messages kept in a LevelDB under DATA_DIR, so that a broker
// started again on the same directory has them back. It logs one line per
// connection, subscription and disconnection on stdout; SIGTERM closes it.
// The modules come from the prefix in AEDES_MODULES (scripts/setup installs
// them there).
import net from 'node:net'
import path from 'node:path'
import { createRequire } from 'node:module'

const [port, dir] = process.argv.slice(2)
const modules = process.env.AEDES_MODULES || '/usr/local/lib/dht-tools/aedes'
const require = createRequire(path.join(modules, 'node_modules', 'index.js'))
const { Aedes } = await import(require.resolve('aedes'))
const persistence = require('aedes-persistence-level')
const { Level } = require('level')

const broker = await Aedes.createBroker({
  persistence: persistence(new Level(path.join(dir, 'aedes.db')))
})
broker.on('client', (c) => console.log(`connected ${c.id}`))
broker.on('clientDisconnect', (c) => console.log(`disconnected ${c.id}`))
// As mosquitto logs it, once the subscriptions are made (wait_subscribed).
broker.on('subscribe', (subs, c) => console.log(`Received SUBSCRIBE from ${c.id}`))
broker.on('clientError', (c, err) => console.log(`client error ${c.id}: ${err.message}`))

const server = net.createServer(broker.handle)
server.listen(Number(port), '127.0.0.1')
process.on('SIGTERM', () => {
  server.close()
  broker.close(() => process.exit(0))
})

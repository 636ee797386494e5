# /etc/profile.d/dht-tools.sh: the database of the installed services
# (dht-record.service, dht-escalate.service), so that on this machine
# `dht-record query` and `dht-escalate list` read it without --db.
# A DHT_DB set already, and --db, win.
if [ -z "${DHT_DB:-}" ]; then
    DHT_DB=/var/lib/dht/dht.db
    export DHT_DB
fi

#!/usr/bin/env python3
"""The concurrent Python peer: aiokafka + aiohttp on one asyncio loop.

Records of one key run one after the other (each task first awaits the
previous task of its key); at most --max-in-flight (64) Graph requests run
at once (a semaphore around the HTTP exchange) and at most --max-buffered
records are held (consumption waits above it). A record is done when its
outcome (and dead letter) is acknowledged by Kafka; every second the
lowest not-done offset of each partition is committed (at-least-once)."""
import asyncio
import signal
import sys
import time

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

import common


class Token:
    def __init__(self, args, session):
        self.url, self.form = common.token_request(args)
        self.session = session
        self.value, self.expires = None, 0.0
        self.lock = asyncio.Lock()

    async def get(self, force=False):
        async with self.lock:
            if force or self.value is None or self.expires - time.time() < 300:
                async with self.session.post(self.url, data=self.form) as r:
                    r.raise_for_status()
                    doc = await r.json()
                self.value, self.expires = doc["access_token"], time.time() + doc["expires_in"]
            return self.value


class Partition:
    """Out-of-order completion of one partition's records."""

    def __init__(self):
        self.pending = {}  # offset -> done?
        self.committed = None

    def lowest_undone(self):
        for off in sorted(self.pending):
            if not self.pending[off]:
                return off
        return None


class Peer:
    def __init__(self, args):
        self.args = args
        self.sem = asyncio.Semaphore(args.max_in_flight)
        self.room = asyncio.Semaphore(args.max_buffered)
        self.tails = {}
        self.parts = {}

    async def create(self, ev):
        args = self.args
        crid = common.client_request_id(ev)
        body = common.json.dumps(ev["data"]["flow"], separators=(",", ":"))
        url = common.flow_url(args, ev)
        started = time.monotonic()
        forced = False
        attempt = 0
        while True:
            attempt += 1
            status, text, rid, retry_after = 0, None, None, None
            try:
                async with self.sem:
                    headers = {"Authorization": "Bearer " + await self.token.get(),
                               "Content-Type": "application/json", "client-request-id": crid}
                    async with self.session.post(url, data=body, headers=headers) as r:
                        status, text = r.status, await r.read()
                        rid, retry_after = r.headers.get("request-id"), r.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            if status == 401 and not forced:
                forced = True
                await self.token.get(force=True)
                continue
            if (status in common.TRANSIENT or status == 0) and attempt < common.MAX_ATTEMPTS:
                await asyncio.sleep(common.backoff(attempt, retry_after))
                continue
            return common.result(status, text, attempt, crid, rid, started)

    async def handle(self, m, prev):
        try:
            if prev is not None:
                await asyncio.gather(prev, return_exceptions=True)
            ev, err = common.check(m.value)
            if err:
                st, flow, graph, error = "failed", None, None, {"code": "invalid_event", "message": err}
            else:
                st, flow, graph, error = await self.create(ev)
            value = common.outcome(ev, st, m.topic, m.partition, m.offset, flow, graph, error)
            futs = [await self.producer.send(self.args.results_topic, value, key=m.key)]
            if st == "failed":
                futs.append(await self.producer.send(
                    self.args.dead_letter_topic, m.value, key=m.key,
                    headers=[("provflow-error-code", error["code"].encode()),
                             ("provflow-error-message", error["message"].encode())]))
            await asyncio.gather(*futs)  # acknowledged
            self.parts[TopicPartition(m.topic, m.partition)].pending[m.offset] = True
        finally:
            self.room.release()
            if self.tails.get(m.key) is asyncio.current_task():
                del self.tails[m.key]

    async def committer(self):
        while True:
            await asyncio.sleep(1.0)
            await self.commit()

    async def commit(self):
        offsets = {}
        for tp, p in self.parts.items():
            low = p.lowest_undone()
            if low is None:
                if not p.pending:
                    continue
                low = max(p.pending) + 1
            for off in [o for o in p.pending if o < low]:
                del p.pending[off]
            if p.committed != low:
                offsets[tp] = low
                p.committed = low
        if offsets:
            await self.consumer.commit(offsets)

    async def run(self):
        args = self.args
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.max_in_flight))
        self.token = Token(args, self.session)
        await self.token.get()
        self.consumer = AIOKafkaConsumer(args.input_topic, bootstrap_servers=args.brokers,
                                         group_id=args.group_id, enable_auto_commit=False,
                                         auto_offset_reset="earliest")
        self.producer = AIOKafkaProducer(bootstrap_servers=args.brokers, enable_idempotence=True,
                                         linger_ms=5)
        await self.producer.start()
        await self.consumer.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        committer = asyncio.create_task(self.committer())
        try:
            while not stop.is_set():
                batch = await self.consumer.getmany(timeout_ms=200, max_records=500)
                for tp, msgs in batch.items():
                    part = self.parts.setdefault(tp, Partition())
                    for m in msgs:
                        await self.room.acquire()
                        part.pending[m.offset] = False
                        prev = self.tails.get(m.key)
                        self.tails[m.key] = asyncio.create_task(self.handle(m, prev))
        finally:
            committer.cancel()
            await self.consumer.stop()
            await self.producer.stop()
            await self.session.close()


if __name__ == "__main__":
    asyncio.run(Peer(common.settings(sys.argv[1:], "peer-python-aio")).run())

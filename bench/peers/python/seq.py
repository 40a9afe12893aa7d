#!/usr/bin/env python3
"""The sequential Python peer: confluent-kafka + requests, one event at a
time. Batch loop: consume up to 100 records, handle each in turn (POST,
retries), produce its outcome (and dead letter), then flush the producer
and commit the consumer's position synchronously: an offset is committed
only after its outcome was acknowledged (at-least-once). Order: the input
order of each partition, so per key."""
import sys
import time

import requests
from confluent_kafka import Consumer, Producer

import common


class Token:
    def __init__(self, args, session):
        self.url, self.form = common.token_request(args)
        self.session = session
        self.value, self.expires = None, 0.0

    def get(self, force=False):
        if force or self.value is None or self.expires - time.time() < 300:
            r = self.session.post(self.url, data=self.form, timeout=30)
            r.raise_for_status()
            doc = r.json()
            self.value, self.expires = doc["access_token"], time.time() + doc["expires_in"]
        return self.value


def create(args, session, token, ev):
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
            r = session.post(url, data=body, timeout=30, headers={
                "Authorization": "Bearer " + token.get(), "Content-Type": "application/json",
                "client-request-id": crid})
            status, text = r.status_code, r.content
            rid, retry_after = r.headers.get("request-id"), r.headers.get("Retry-After")
        except requests.RequestException:
            pass
        if status == 401 and not forced:
            forced = True
            token.get(force=True)
            continue
        if (status in common.TRANSIENT or status == 0) and attempt < common.MAX_ATTEMPTS:
            time.sleep(common.backoff(attempt, retry_after))
            continue
        return common.result(status, text, attempt, crid, rid, started)


def main(argv):
    args = common.settings(argv, "peer-python-seq")
    consumer = Consumer({"bootstrap.servers": args.brokers, "group.id": args.group_id,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    producer = Producer({"bootstrap.servers": args.brokers, "enable.idempotence": True,
                         "linger.ms": 5})
    session = requests.Session()
    token = Token(args, session)
    token.get()
    consumer.subscribe([args.input_topic])
    failed = []

    def delivered(err, _msg):
        if err is not None:
            failed.append(err)

    import signal
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        msgs = consumer.consume(num_messages=100, timeout=1.0)
        for m in msgs:
            if m.error():
                continue
            ev, err = common.check(m.value())
            if err:
                st, flow, graph, error = "failed", None, None, {"code": "invalid_event", "message": err}
            else:
                st, flow, graph, error = create(args, session, token, ev)
            value = common.outcome(ev, st, m.topic(), m.partition(), m.offset(), flow, graph, error)
            producer.produce(args.results_topic, value, m.key(), on_delivery=delivered)
            if st == "failed":
                producer.produce(args.dead_letter_topic, m.value(), m.key(), on_delivery=delivered,
                                 headers=[("provflow-error-code", error["code"]),
                                          ("provflow-error-message", error["message"])])
            producer.poll(0)
        if msgs:
            producer.flush()
            if failed:
                sys.exit("produce failed, not committing: %s" % failed[0])
            consumer.commit(asynchronous=False)
    consumer.close()


if __name__ == "__main__":
    main(sys.argv[1:])

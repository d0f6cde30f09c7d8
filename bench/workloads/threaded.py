"""Workload: a multithreaded producer/consumer pipeline.

Four producer threads parse log-like lines into dicts and push batches onto a
``queue.Queue``; two consumer threads aggregate them into per-thread summary
dicts. All threads allocate concurrently (interleaved by the GIL), so the
recorder sees events from six threads plus the main one.
"""
import queue
import random
import threading
import time

from _harness import add_thread_cpu, main, profile

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


def produce(seed, n, out):
    """Generate and parse ``n`` log lines; put them on ``out`` in batches."""
    start = time.thread_time()
    rng = random.Random(seed)
    batch = []
    for i in range(n):
        line = (f"2024-01-{rng.randrange(1, 29):02d} {rng.choice(LEVELS)} "
                f"svc{rng.randrange(8)} req={i} ms={rng.randrange(500)}")
        date, level, service, req, ms = line.split(" ")
        batch.append({"date": date, "level": level, "service": service,
                      "req": int(req[4:]), "ms": int(ms[3:])})
        if len(batch) == 200:
            out.put(batch)
            batch = []
    out.put(batch)
    add_thread_cpu(time.thread_time() - start)


def consume(inbox, summary):
    """Aggregate batches from ``inbox`` into ``summary`` until a None arrives."""
    start = time.thread_time()
    while True:
        batch = inbox.get()
        if batch is None:
            add_thread_cpu(time.thread_time() - start)
            return
        for rec in batch:
            key = (rec["service"], rec["level"])
            count, total = summary.get(key, (0, 0))
            summary[key] = (count + 1, total + rec["ms"])


@profile
def run(scale):
    """Run 4 producers and 2 consumers over ~160,000 lines; return a checksum."""
    n = int(40000 * scale)
    inbox = queue.Queue(maxsize=64)
    summaries = [{}, {}]
    producers = [threading.Thread(target=produce, args=(seed, n, inbox)) for seed in range(4)]
    consumers = [threading.Thread(target=consume, args=(inbox, s)) for s in summaries]
    for t in producers + consumers:
        t.start()
    for t in producers:
        t.join()
    for _ in consumers:
        inbox.put(None)
    for t in consumers:
        t.join()
    return sum(c * 7 + ms for s in summaries for c, ms in s.values())


if __name__ == "__main__":
    main(run)

"""JudgeCache: bounded LRU, in-flight merging, and failures never cached."""

from __future__ import annotations

import asyncio

from ivgr.judges.cache import JudgeCache, cache_key


def test_cache_evicts_the_least_recently_used_entry():
    cache = JudgeCache(max_size=2)
    cache.put("a", 1.0)
    cache.put("b", 0.0)
    assert cache.get("a") == 1.0  # "a" is now the most recent
    cache.put("c", 0.7)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1.0, None, 0.7)
    assert len(cache) == 2


def test_cache_key_depends_on_every_part():
    base = dict(kind="consistency", model="m", reference="r", candidate="c", n=4, temperature=0.5)
    keys = {cache_key(**base)} | {cache_key(**{**base, k: "other"}) for k in base}
    assert len(keys) == len(base) + 1


def test_cache_merges_concurrent_identical_requests_and_does_not_store_failures():
    cache = JudgeCache(max_size=10)
    calls = []

    async def compute_ok():
        calls.append("ok")
        await asyncio.sleep(0.05)
        return 0.3, 0

    async def compute_fail():
        calls.append("fail")
        return None, 2

    async def main():
        results = await asyncio.gather(*[cache.get_or_compute("k", compute_ok) for _ in range(5)])
        failed = await cache.get_or_compute("f", compute_fail)
        retried = await cache.get_or_compute("f", compute_fail)
        return results, failed, retried

    results, failed, retried = asyncio.run(main())
    assert calls.count("ok") == 1
    assert sorted(hit for _, _, hit in results) == [False] + [True] * 4
    assert failed == (None, 2, False) and retried == (None, 2, False)
    assert calls.count("fail") == 2 and cache.get("f") is None


def test_cache_of_size_zero_stores_nothing():
    cache = JudgeCache(max_size=0)
    cache.put("a", 1.0)
    assert cache.get("a") is None and len(cache) == 0

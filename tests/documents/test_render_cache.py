"""The viewers' page cache stays within its byte bound, dropping the least recently used."""
from sessions.documents.render import ByteBoundedCache, PageImage


def _image(size: int) -> PageImage:
    return PageImage(b"x" * size, "image/png", f'"{size}"')


def test_cache_drops_least_recently_used_beyond_its_bound():
    cache = ByteBoundedCache(250)
    cache.put(("a",), _image(100))
    cache.put(("b",), _image(100))
    assert cache.get(("a",)) is not None  # "a" is now the most recent
    cache.put(("c",), _image(100))
    assert cache.get(("b",)) is None
    assert cache.get(("a",)) is not None and cache.get(("c",)) is not None
    assert cache.size == 200
    cache.put(("a",), _image(50))  # replacing an entry frees its old bytes
    assert cache.size == 150

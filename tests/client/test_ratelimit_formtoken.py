from plugin import formtoken
from plugin.ratelimit import RateLimiter


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_bucket_allows_burst_then_refuses_with_retry_after():
    clock = Clock()
    rl = RateLimiter(60, clock=clock)  # one token per second, burst of 60
    assert all(rl.take("a").allowed for _ in range(60))
    verdict = rl.take("a")
    assert not verdict.allowed and verdict.retry_after_s == 1
    assert rl.take("b").allowed  # buckets are per client
    clock.t += 1.0
    assert rl.take("a").allowed
    assert not rl.take("a").allowed


def test_cost_larger_than_what_is_left_waits_proportionally():
    clock = Clock()
    rl = RateLimiter(6, clock=clock)  # one token every 10 s
    assert rl.take("k", cost=6).allowed
    verdict = rl.take("k", cost=3)
    assert not verdict.allowed and verdict.retry_after_s == 30
    assert not rl.take("k", cost=7).allowed  # more than the bucket holds: never


def test_form_token_roundtrip_expiry_and_tampering(tmp_path):
    secret = formtoken.load_secret(tmp_path)
    assert formtoken.load_secret(tmp_path) == secret  # persisted
    assert (tmp_path / formtoken.SECRET_FILE).stat().st_mode & 0o077 == 0
    token = formtoken.issue(secret, ttl_s=60, now=1000)
    assert formtoken.verify(secret, token, now=1059)
    assert not formtoken.verify(secret, token, now=1061)
    assert not formtoken.verify(b"other secret", token, now=1000)
    prefix, expiry, nonce, sig = token.split(".")
    forged = ".".join([prefix, str(int(expiry) + 3600), nonce, sig])
    assert not formtoken.verify(secret, forged, now=1000)
    assert not formtoken.verify(secret, "trk_0123456789ab_x", now=1000)
    assert formtoken.load_secret(tmp_path, "configured") == b"configured"

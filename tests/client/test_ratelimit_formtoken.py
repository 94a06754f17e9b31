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


def test_form_token_roundtrip_expiry_origin_and_tampering(tmp_path):
    secret = formtoken.load_secret(tmp_path)
    assert formtoken.load_secret(tmp_path) == secret  # persisted
    assert (tmp_path / formtoken.SECRET_FILE).stat().st_mode & 0o777 == 0o600
    clock = Clock()
    origin = "https://support.example.com"
    token = formtoken.issue(secret, origin, clock=clock)
    assert token.startswith("frm.")
    check = lambda tok, org=origin, key=secret: formtoken.verify(key, tok, org, 60, clock=clock)  # noqa: E731
    clock.t += 59
    assert check(token) is formtoken.Check.OK
    assert check(token, None) is formtoken.Check.WRONG_ORIGIN  # no Origin header
    assert check(token, "https://evil.example") is formtoken.Check.WRONG_ORIGIN
    assert check(token, key=b"other secret") is formtoken.Check.INVALID
    assert check(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is formtoken.Check.INVALID
    assert check("frm.e30.AAAA.BBBB") is formtoken.Check.INVALID
    assert check("trk_0123456789ab_x") is formtoken.Check.INVALID
    clock.t += 2
    assert check(token) is formtoken.Check.EXPIRED
    assert formtoken.load_secret(tmp_path, "configured") == b"configured"


def test_form_token_is_itsdangerous_not_hand_rolled():
    """One signing implementation: the token body is an itsdangerous timed signature (salted)."""
    from itsdangerous import URLSafeTimedSerializer

    token = formtoken.issue(b"k", "https://a.example")
    payload = URLSafeTimedSerializer(b"k", salt=formtoken.SALT).loads(token[len(formtoken.PREFIX):])
    assert payload["o"] == "https://a.example"

import os
import subprocess
import sys
import textwrap

from plugin.budget import count_tokens, truncate


def test_count_and_truncate_keep_the_start():
    text = "My parcel has not arrived. " * 50
    n = count_tokens(text)
    assert n > 100
    cut, was_cut = truncate(text, 20)
    assert was_cut and text.startswith(cut) and count_tokens(cut) <= 20
    same, was_cut = truncate("short ticket", 20)
    assert same == "short ticket" and not was_cut


def test_special_token_text_is_counted_not_rejected():
    assert count_tokens("<|endoftext|>") > 1


def test_works_offline_with_an_empty_cache(tmp_path):
    """A fresh process, an empty TIKTOKEN_CACHE_DIR and every socket connect failing."""
    script = textwrap.dedent("""
        import socket
        def no_network(*a, **k):
            raise OSError("network disabled in this test")
        socket.socket.connect = no_network
        socket.create_connection = no_network
        from plugin.budget import count_tokens, truncate
        assert count_tokens("hello world") == 2, count_tokens("hello world")
        assert count_tokens("hello world", "o200k_base") == 2
        print("ok", truncate("one two three four", 2))
    """)
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ok ('one two', True)" in out.stdout
    assert len(list((tmp_path / "cache").iterdir())) == 2  # the two shipped encodings were installed

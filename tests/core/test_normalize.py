from plugin.normalize import normalize


def test_html_tags_entities_and_blockquote_removed():
    html = ("<div><p>My order&nbsp;is <b>late</b> &amp; I&#39;m upset</p><br>"
            "<blockquote>On Monday you wrote: we shipped it</blockquote></div>")
    assert normalize(html) == "My order is late & I'm upset"


def test_script_and_style_dropped():
    assert normalize("<style>p{color:red}</style><p>Refund please</p><script>x()</script>") == "Refund please"


def test_gmail_quote_cut():
    text = "Still no parcel.\n\nOn Mon, 3 Jun 2024 at 10:02, Acme Support <help@acme.com> wrote:\n> We shipped it."
    assert normalize(text) == "Still no parcel."


def test_quoted_lines_cut_after_new_text():
    assert normalize("Thanks, that worked\n> old message\n> more") == "Thanks, that worked"


def test_outlook_header_block_cut_but_lone_from_kept():
    text = "Need an invoice copy.\n\nFrom: Acme Support\nSent: Monday, June 3, 2024\nTo: me\nSubject: RE: order"
    assert normalize(text) == "Need an invoice copy."
    assert normalize("From: the app, I cannot log in") == "From: the app, I cannot log in"


def test_original_message_marker_cut():
    assert normalize("Any update?\n-----Original Message-----\nFrom: x") == "Any update?"


def test_signatures_cut():
    assert normalize("Please refund me\n-- \nJohn Smith\nCEO") == "Please refund me"
    assert normalize("Please refund me\n\nSent from my iPhone") == "Please refund me"
    assert normalize("My parcel never came.\n\nBest regards,\nJohn Smith\nACME Inc") == "My parcel never came."


def test_closing_phrase_kept_when_more_text_follows():
    text = "Thanks,\nbut the second item is missing and the box was damaged when it finally arrived at my door " \
           "after three weeks of waiting for it"
    assert "second item is missing" in normalize(text)


def test_nfkc_controls_and_whitespace():
    assert normalize("Order\u00a0\uff11\uff12\uff13   is\tlate\u200b\x07") == "Order 123 is late"
    assert normalize("a\n\n\n\n\nb") == "a\n\nb"
    assert normalize("line one\r\nline two") == "line one\nline two"


def test_empty_and_only_quoted_text():
    assert normalize("") == ""
    # A ticket that is nothing but a quote keeps its text rather than becoming empty.
    assert normalize("> my card was charged twice") == "> my card was charged twice"

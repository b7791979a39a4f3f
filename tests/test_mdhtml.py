"""The report's Markdown subset to HTML (asq_hw/mdhtml.py)."""

import base64

from asq_hw.mdhtml import render_body, render_page


def body(md, base=None):
    return render_body(md, base)[0]


def test_headings_paragraphs_and_inline():
    html = body("# Title\n\nSome `a < b` and **bold** and *em* text,\njoined.\n\n## Sub")
    assert html == ("<h1>Title</h1>\n<p>Some <code>a &lt; b</code> and <strong>bold</strong> "
                    "and <em>em</em> text, joined.</p>\n<h2>Sub</h2>\n")


def test_text_is_escaped_and_links_kept():
    html = body("x <script> & [the docs](docs/a.md?x=1&y=2)")
    assert html == ('<p>x &lt;script&gt; &amp; <a href="docs/a.md?x=1&amp;y=2">the docs</a>'
                    "</p>\n")


def test_multiplication_star_is_not_emphasis():
    assert body("2 * 3 * 4 and a*b*c") == "<p>2 * 3 * 4 and a*b*c</p>\n"


def test_table_with_right_aligned_columns():
    md = "| a | b |\n|---|---:|\n| `x` | 1 |\n| y | 22 |\n\nafter"
    assert body(md) == ('<table>\n<tr><th>a</th><th class="r">b</th></tr>\n'
                        '<tr><td><code>x</code></td><td class="r">1</td></tr>\n'
                        '<tr><td>y</td><td class="r">22</td></tr>\n</table>\n<p>after</p>\n')


def test_escaped_pipe_inside_a_cell():
    md = "| flag | values |\n|---|---|\n| --kind | post\\|int |\n"
    assert "<td>post|int</td>" in body(md)


def test_code_block_is_verbatim_and_escaped():
    md = "```\nasq-hw demo --out <dir>\n  # two\n```\ntext"
    assert body(md) == ("<pre><code>asq-hw demo --out &lt;dir&gt;\n  # two</code></pre>\n"
                        "<p>text</p>\n")


def test_bullets_with_continuation_lines():
    md = "- one\n  more\n- two\n\npara"
    assert body(md) == "<ul>\n<li>one more</li>\n<li>two</li>\n</ul>\n<p>para</p>\n"


def test_images_are_embedded_and_missing_ones_reported(tmp_path):
    (tmp_path / "plots").mkdir()
    png = b"\x89PNG\r\n\x1a\nfake"
    (tmp_path / "plots" / "a.png").write_bytes(png)
    html, missing = render_body("![a plot](plots/a.png) ![gone](plots/b.png)", tmp_path)
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="a plot"' in html
    assert '<img src="plots/b.png" alt="gone">' in html
    assert missing == ["plots/b.png"]


def test_page_is_complete_html():
    page, missing = render_page("# T", "A <title>")
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
    assert "<title>A &lt;title&gt;</title>" in page and "<h1>T</h1>" in page
    assert missing == []

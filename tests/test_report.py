"""The demo report's HTML page (asq_hw/report.render_html)."""

import base64

import pytest

from asq_hw.report import render_html

PNG = b"\x89PNG\r\n\x1a\nfake"


def test_page_is_complete_and_self_contained():
    md = ("# Demo <run>\n\nSome `a < b` and **bold** text.\n\n"
          "| key | value |\n|---|---:|\n| lut | 12 |\n\n![a plot](plots/a.png)\n")
    page = render_html(md, "A <title>", {"plots/a.png": PNG})
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
    assert "<title>A &lt;title&gt;</title>" in page
    assert "<h1>Demo &lt;run&gt;</h1>" in page               # raw HTML is escaped
    assert "<code>a &lt; b</code>" in page and "<strong>bold</strong>" in page
    assert "<th>key</th>" in page and '<td style="text-align:right">12</td>' in page
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in page
    assert 'alt="a plot"' in page and "plots/a.png" not in page


def test_an_image_that_was_not_rendered_is_an_error():
    with pytest.raises(ValueError, match=r"^report images not rendered: \['plots/b.png'\]$"):
        render_html("![gone](plots/b.png)", "t", {"plots/a.png": PNG})

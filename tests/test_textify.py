"""HTML and Markdown bodies → plain text that keeps words and phrases intact."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLE_DOCS, SHARED, needs_shared
from hypothesis import given, settings
from hypothesis import strategies as st

from searcher.ingest.html_text import simple_html_to_text, soup_to_text, tidy
from searcher.ingest.textify import (
    body_to_text,
    first_heading,
    first_html_heading,
    first_markdown_heading,
    html_to_text,
    leading_heading,
    looks_like_html,
    loss_warning,
    markdown_to_text,
    read_markdown,
)

# --- HTML ----------------------------------------------------------------------------------------


def test_inline_tags_do_not_split_words() -> None:
    assert html_to_text("<b>认证</b>认可") == "认证认可"
    assert (
        html_to_text("<p>开展<span>认证</span><a href='#'>认可</a>活动</p>") == "开展认证认可活动"
    )
    assert html_to_text("<em>Hello</em><strong>World</strong>") == "HelloWorld"


@pytest.mark.parametrize(
    ("markup", "lines"),
    [
        ("<p>第一段</p><p>第二段</p>", ["第一段", "第二段"]),
        ("<div>甲</div><div>乙</div>", ["甲", "乙"]),
        ("第一行<br>第二行<br/>第三行", ["第一行", "第二行", "第三行"]),
        ("<ul><li>苹果</li><li>香蕉</li></ul>", ["苹果", "香蕉"]),
        ("<table><tr><td>单元一</td><td>单元二</td></tr></table>", ["单元一", "单元二"]),
        ("<h2>标题</h2>正文", ["标题", "正文"]),
        ("<blockquote>引用</blockquote>之后", ["引用", "之后"]),
    ],
)
def test_block_elements_become_line_breaks(markup: str, lines: list[str]) -> None:
    text = html_to_text(markup)
    assert [line for line in text.splitlines() if line] == lines
    # Neighbouring blocks never run together into one word.
    assert "".join(lines) not in text


def test_script_style_and_friends_are_dropped() -> None:
    markup = (
        "<p>正文</p><script>var secret = 1;</script><style>p { color: red }</style>"
        "<noscript>请启用脚本</noscript><iframe src='x'>框架</iframe><template>模板</template>"
        "<!-- 注释内容 --><p>结尾</p>"
    )
    text = html_to_text(markup)
    assert text.split() == ["正文", "结尾"]
    for gone in ("secret", "color", "请启用脚本", "框架", "模板", "注释内容"):
        assert gone not in text


def test_head_is_dropped_from_full_pages() -> None:
    page = (
        "<html><head><title>页面标题</title><meta charset=utf-8></head>"
        "<body><p>正文</p></body></html>"
    )
    assert html_to_text(page) == "正文"


def test_entities_are_decoded() -> None:
    text = html_to_text("<p>AT&amp;T &copy; 2021 &#20013;&#25991; &#x4E2D; 5&nbsp;G</p>")
    assert text == "AT&T © 2021 中文 中 5 G"


def test_escaped_markup_stays_as_text() -> None:
    text = html_to_text("<p>输入 &lt;script&gt;alert(1)&lt;/script&gt; 测试</p>")
    assert text == "输入 <script>alert(1)</script> 测试"


def test_image_alt_text_is_kept_and_title_is_the_fallback() -> None:
    text = html_to_text(
        '<p>前<img src="a.jpg" alt="雨后的茶园">后</p><img src="b.jpg" title="图注">'
    )
    assert "雨后的茶园" in text
    assert "图注" in text
    assert "a.jpg" not in text and "b.jpg" not in text
    assert html_to_text('<p><img src="c.jpg"></p>') == ""


def test_whitespace_is_tidied() -> None:
    text = html_to_text("<p>  多个   空格\u3000全角\t制表 </p>\n\n\n\n<p>下一段</p>")
    assert text == "多个 空格 全角 制表\n\n下一段"


def test_tidy_squeezes_blank_lines_and_trims() -> None:
    assert tidy("  a  b  \n\n\n\n  c\n") == "a b\n\nc"
    assert tidy("\n\n") == ""


def test_looks_like_html() -> None:
    assert looks_like_html("<p>x</p>")
    assert looks_like_html("a <br/> b")
    assert looks_like_html("AT&amp;T")
    assert not looks_like_html("3 < 4 and 5 > 2")
    assert not looks_like_html("纯文本，没有标签")


# --- Markdown ------------------------------------------------------------------------------------

MARKDOWN = """\
# 一级标题
## 小节 ##

正文有 **粗体**、__也是粗体__、*斜体* 和 _强调_，还有 ~~删除线~~ 与 `行内代码`。

- 第一项
* 第二项
+ 第三项

1. 有序一
2) 有序二

> 引用的一句话

请看 [官方文档](https://example.com/docs "说明") 和 ![示意图](https://example.com/a.png)。
参考 [链接文字][ref]。

[ref]: https://example.com/ref

---

| 列一 | 列二 |
| --- | :---: |
| 值一 | 值二 |

```python
print("hello")
```

变量 snake_case_name 与 2 * 3 * 4 保持原样。
"""


def test_markdown_syntax_is_stripped() -> None:
    text = markdown_to_text(MARKDOWN)
    lines = [line for line in text.splitlines() if line]
    assert lines[0] == "一级标题"
    assert lines[1] == "小节"
    assert "正文有 粗体、也是粗体、斜体 和 强调，还有 删除线 与 行内代码。" in lines
    for item in ("第一项", "第二项", "第三项", "有序一", "有序二", "引用的一句话"):
        assert item in lines
    assert "请看 官方文档 和 示意图 。" in text
    assert "参考 链接文字。" in text
    assert 'print("hello")' in lines
    assert "变量 snake_case_name 与 2 * 3 * 4 保持原样。" in lines
    for leftover in ("#", "**", "__", "~~", "`", "](", "https://", "---", "```", ">"):
        assert leftover not in text, leftover
    assert "列一" in text and "值二" in text and "|" not in text


def test_markdown_with_inline_html_goes_through_html() -> None:
    text = markdown_to_text("## 标题\n\n一段 <b>认证</b>认可 文字 &amp; 更多")
    assert text.splitlines()[0] == "标题"
    assert "认证认可" in text
    assert "&amp;" not in text and "& 更多" in text


def test_headings_separated_by_a_blank_line_stay_apart() -> None:
    text = markdown_to_text("# 标题\n\n## 第一节\n\n正文")
    assert [line for line in text.splitlines() if line] == ["标题", "第一节", "正文"]


def test_star_emphasis_inside_chinese_text_is_stripped() -> None:
    assert markdown_to_text("这是*强调*文字。") == "这是强调文字。"


def test_angle_brackets_in_code_spans_survive() -> None:
    text = markdown_to_text("## 用法\n\n使用 `std::vector<int>` 存储数据")
    assert "std::vector<int>" in text


def test_first_markdown_heading() -> None:
    assert first_markdown_heading("前言\n\n## 第二节 **重点**\n\n# 第一\n") == "第二节 重点"
    assert first_markdown_heading("#没有空格不是标题\n") is None
    assert first_markdown_heading("    # 缩进四格是代码\n") is None
    assert first_markdown_heading("纯文本") is None


def test_first_html_heading() -> None:
    assert first_html_heading("<div><p>x</p><h2>二级 <b>标题</b></h2><h1>后面</h1></div>") == (
        "二级 标题"
    )
    assert (
        first_html_heading("<html><head><title>页面</title></head><body></body></html>") == "页面"
    )
    assert first_html_heading("<h4>四级不算</h4>") is None
    assert first_html_heading("<h1>   </h1>") is None


def test_first_heading_prefers_markdown_then_html() -> None:
    assert first_heading("# Markdown 标题\n\n<h1>HTML 标题</h1>") == "Markdown 标题"
    assert first_heading("<div><h1>HTML 标题</h1></div>") == "HTML 标题"
    assert first_heading("<div><img src='x.jpg'></div>") is None
    assert first_heading("") is None


# --- choosing between HTML and Markdown ----------------------------------------------------------


def test_body_to_text_html_body() -> None:
    body = "<div>\n<p>齐鲁晚报<b>记者</b></p><p>世界<i>认可</i>日</p>\n</div>"
    assert body_to_text(body) == "齐鲁晚报记者\n\n世界认可日"


def test_body_to_text_markdown_body() -> None:
    body = "## 升级步骤\n\n1. 安装 **Python 3.6.3**\n2. 运行 [测试](https://x.org)\n"
    lines = [line for line in body_to_text(body).splitlines() if line]
    assert lines == ["升级步骤", "安装 Python 3.6.3", "运行 测试"]


def test_body_with_block_html_is_not_treated_as_markdown() -> None:
    # Block HTML wins even if a line starts with "- ": it stays literal text.
    body = "<p>第一段</p>\n- 不是列表\n<p>**不是粗体**</p>"
    text = body_to_text(body)
    assert "- 不是列表" in text
    assert "**不是粗体**" in text


def test_body_to_text_plain_text_and_empty() -> None:
    assert body_to_text("纯文本 AT&amp;T   多空格") == "纯文本 AT&T 多空格"
    assert body_to_text("   \n\n ") == ""
    assert body_to_text("") == ""


def test_mixed_terms_survive() -> None:
    body = "<p>A320 与 5G、COVID-19、C++ 以及 iPhone 13，版本 3.6.3</p>"
    assert body_to_text(body) == "A320 与 5G、COVID-19、C++ 以及 iPhone 13，版本 3.6.3"


# --- the fast path for plain markup must give BeautifulSoup's text -------------------------------

_PIECES = st.sampled_from([
    "<p>", "</p>", "<div>", "</div>", "<span>", "</span>", "<strong>", "</strong>", "<b>", "</b>",
    "<a href='x?a=1&b=2'>", "</a>", "<h2>", "</h2>", "<section class=\"c\">", "</section>",
    "<blockquote>", "</blockquote>", "<br>", "<br/>", "</br>", "<BR >", "<P>", "</P>",
    "<li>", "</li>", "<ul>", "<img src='a.png' alt='图'>", "<hr>", "<script>", "</script>",
    "<title>", "</title>", "<pre>", "</pre>", "<table>", "<td>", "<!-- c -->", "<!DOCTYPE html>",
    "<div/>", "<span title='a>b'>", "<p class=x>",
    "认证", "认可", "abc", " ", "  ", "\n", "\t", "\r\n", "\u3000", "&amp;", "&lt;", "&gt;",
    "&nbsp;", "&quot;", "&apos;", "&copy;", "&#20013;", "&#x4E2D;", "&#128;", "&#0;", "&",
    "& ", "<", ">", "a<b", "\x00", "\x0c", "&amp", "𠮷",
    "<p\u3000>", "</p\u3000>", "<br\xa0/>", "<div\x0b>", "<p\tclass='x'\n>", "</div\x0c>",
    "<span x='\ud800'>",
])


_TEXTS = st.sampled_from([
    "认证", "a b", " ", "\n", "\n\n", "\r\n", "\r", "\t", "\u3000", "\x85", "&amp;", "&lt;", "&gt;",
    "&nbsp;", "&#32;", "&#x4E2D;", "&#128;", ">", "𠮷",
])


def _element(names: list[str], content: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    attributes = st.sampled_from(["", " class='x'", ' href="a?b=1&c=2"', " data-x"])
    return st.tuples(st.sampled_from(names), attributes, st.lists(content, max_size=3)).map(
        lambda t: f"<{t[0]}{t[1]}>{''.join(t[2])}</{t[0]}>")


_INLINE_MARKUP = st.recursive(
    _TEXTS | st.sampled_from(["<br>", "<br/>", "<BR />"]),
    lambda inner: _element(["span", "strong", "b", "em", "font", "code"], inner),
    max_leaves=6)
_BLOCK_MARKUP = st.recursive(
    _element(["p", "h2", "figcaption"], _INLINE_MARKUP),
    lambda inner: _element(["div", "section", "blockquote"], inner | _TEXTS),
    max_leaves=6)


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES, max_size=14))
def test_fast_path_gives_the_soup_text_or_declines(pieces: list[str]) -> None:
    markup = "".join(pieces)
    fast = simple_html_to_text(markup)
    if fast is not None:
        assert fast == soup_to_text(markup), markup


@settings(max_examples=600, deadline=None)
@given(st.lists(_BLOCK_MARKUP, min_size=1, max_size=3), st.sampled_from(["", "\n", " "]))
def test_fast_path_gives_the_soup_text_of_nested_markup(blocks: list[str], gap: str) -> None:
    markup = gap.join(blocks)
    fast = simple_html_to_text(markup)
    if "&#128;" not in markup:
        assert fast is not None, markup
    if fast is not None:
        assert fast == soup_to_text(markup), markup


@pytest.mark.parametrize("markup", [
    "<div>\n<p><strong>央视网消息</strong>（新闻联播）：<br></p><p>正文&nbsp;一</p></div>",
    "<p>AT&amp;T &#20013;&#x4E2D; <span class='k'>5G</span></p>",
    "<section><h2>标题</h2><blockquote><p>引用</p></blockquote></section>",
])
def test_fast_path_takes_plain_markup(markup: str) -> None:
    assert simple_html_to_text(markup) is not None
    assert simple_html_to_text(markup) == soup_to_text(markup)


@pytest.mark.parametrize("markup", [
    "前言<p>正文</p>",  # text outside any block: lxml wraps it in a <p>
    "<p>甲<div>乙</div></p>",  # lxml closes the <p> first
    "<p>甲<p>乙</p></p>", "<span><div>甲</div></span>", "<div>甲</span>", "<div>甲",
    "<p>甲<img src='a.jpg' alt='图'></p>", "<ul><li>甲</li></ul>", "<p>a &copy b</p>",
    "<p>3 < 4</p>", "<!-- x --><p>甲</p>", "<p>&#128;</p>", "<br>甲",
    "<p><a href='#'>甲<a>乙</a></a></p>",  # lxml closes the first link
    "<p>a<br\xa0>b</p>", "<div>x<p\u3000>a</p>y</div>",  # not blanks to lxml: unknown tags
    "<div>x<p>a</p\u3000>y</div>",
])
def test_fast_path_declines_what_it_cannot_mirror(markup: str) -> None:
    assert simple_html_to_text(markup) is None
    assert html_to_text(markup) == soup_to_text(markup)


def _bodies(folder: Path) -> list[str]:
    from searcher.ingest.metadata import parse

    return [parse(p.read_text(encoding="utf-8", errors="replace")).body
            for p in sorted(folder.rglob("*")) if p.suffix in (".md", ".html") and p.is_file()]


def _assert_fast_path_agrees(bodies: list[str]) -> int:
    taken = 0
    for body in bodies:
        fast = simple_html_to_text(body)
        if fast is not None:
            taken += 1
            assert fast == soup_to_text(body)
    return taken


def test_fast_path_agrees_with_soup_on_sample_docs() -> None:
    assert _assert_fast_path_agrees(_bodies(SAMPLE_DOCS)) >= 1


@needs_shared
def test_fast_path_agrees_with_soup_on_the_real_feed() -> None:
    _assert_fast_path_agrees(_bodies(SHARED / "corpus" / "rsshub"))


def test_fast_path_agrees_with_soup_on_news_articles(corpus_2k) -> None:
    _, corpus, _ = corpus_2k
    bodies = _bodies(corpus)
    # The transcripts are plain <div>/<p>/<strong>/<br> markup: all of it takes the fast path.
    assert _assert_fast_path_agrees(bodies) == len(bodies) >= 1900


def test_plain_markup_is_read_without_importing_bs4() -> None:
    """An indexing run never pays bs4's import (0.2 s): plain markup is read by a regular
    expression, the rest by walking lxml's tree (bs4 stays the reference in tests)."""
    import subprocess
    import sys

    code = ("import sys; import searcher.local.indexing; "
            "from searcher.ingest.textify import html_to_text; "
            "assert html_to_text('<div><p>正文</p></div>') == '正文'; "
            "assert 'bs4' not in sys.modules; "
            "assert html_to_text('前言<p>正文</p>') == '前言\\n正文'; "  # lxml's tree, walked
            "assert 'bs4' not in sys.modules and 'lxml.etree' in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


# --- Markdown as CommonMark generators read it -------------------------------------------------


def test_code_is_kept_verbatim_in_fences_indented_blocks_and_spans() -> None:
    body = (
        "正文 `List<Integer> trans[u][i]` 与 `__init__`。\n\n"
        "```cpp\n#include <iostream>\nint main() { cout<<ans; return trans[u][i]; }\n```\n\n"
        "    <dependency><groupId>org.example</groupId></dependency>\n\n"
        "~~~\n**not bold** [not](a link)\n~~~\n"
    )
    text = markdown_to_text(body)
    for kept in ("List<Integer> trans[u][i]", "__init__", "#include <iostream>",
                 "int main() { cout<<ans; return trans[u][i]; }",
                 "<dependency><groupId>org.example</groupId></dependency>",
                 "**not bold** [not](a link)"):
        assert kept in text, kept
    assert "```" not in text and "~~~" not in text


def test_a_less_than_sign_that_opens_no_element_is_text() -> None:
    body = "若 i<p 则 cout<<ans，ArrayList<Integer> 与 Callable<Object> 都是类型。\n\n结尾一句。"
    text = markdown_to_text(body)
    assert "i<p 则 cout<<ans，ArrayList<Integer> 与 Callable<Object> 都是类型。" in text
    assert text.endswith("结尾一句。")
    # HTML bodies too: the rest of the article is never swallowed
    html_body = "<div><p>#include <iostream> 与 a<b 以及 List<Object> 后文</p><p>最后</p></div>"
    assert html_to_text(html_body) == "#include <iostream> 与 a<b 以及 List<Object> 后文\n\n最后"


def test_block_html_does_not_stop_markdown_around_it() -> None:
    body = ("<div>\n<p>第一段</p>\n</div>\n\n"
            "**粗体** 与 [查看原文](https://example.com/a)\n\n## 小节\n")
    text = markdown_to_text(body)
    assert text.splitlines()[0] == "第一段"
    assert "粗体 与 查看原文" in text and "小节" in text
    for syntax in ("**", "](", "https://", "#"):
        assert syntax not in text


def test_news_article_link_after_an_html_block_is_its_text() -> None:
    body = ("<div>   \n<p><strong>央视网消息</strong>（新闻联播）：正文。</p>\n\n"
            "[查看原文](https://tv.cctv.com/2023/03/31/VIDE.shtml)\n</div>\n            ")
    assert markdown_to_text(body) == "央视网消息（新闻联播）：正文。\n\n查看原文"


def test_indented_markup_in_an_html_body_is_not_code() -> None:
    body = "<div>\n  <p>一</p>\n\n      <div class='x'><a href='u'>二</a></div>\n</div>"
    assert [line for line in markdown_to_text(body).splitlines() if line] == ["一", "二"]


def test_tables_links_images_headings_and_footnotes_keep_their_text() -> None:
    body = ("# 标题\n\n| 名称 | 说明 |\n|---|---|\n| **甲** | [链接文字](http://x.org) |\n\n"
            "![图片说明](a.png) 脚注在此[^n]。~~删除~~\n\n[^n]: 脚注的文字。\n")
    text = markdown_to_text(body)
    for kept in ("标题", "名称", "说明", "甲", "链接文字", "图片说明", "脚注的文字。", "删除"):
        assert kept in text, kept
    for gone in ("|", "http", "a.png", "~~", "[^n]", "↩"):
        assert gone not in text, gone


def test_liquid_tags_are_dropped_and_their_content_kept() -> None:
    body = (
        "前言 <!-- more -->\n\n{% youtube I07XMi7MHd4 %}\n\n"
        "{% note info 提示 %}\n注意**这里**\n{% endnote %}\n\n"
        "{% codeblock app.js lang:js %}\nif (a<b && c) { *x* = [y](z); }\n{% endcodeblock %}\n\n"
        "{% highlight ruby %}\nputs 'hello world!!'\n{% endhighlight %}\n\n"
        "例：`{% raw %}{% post_link slug %}{% endraw %}` 与 "
        "{% raw %}{{ site.title }}{% endraw %}\n\n"
        "```\n{% codeblock %} in a fence stays {% endcodeblock %}\n```\n"
    )
    text = markdown_to_text(body)
    for kept in ("前言", "注意这里", "if (a<b && c) { *x* = [y](z); }", "puts 'hello world!!'",
                 "{% post_link slug %}", "{{ site.title }}",
                 "{% codeblock %} in a fence stays {% endcodeblock %}"):
        assert kept in text, kept
    for gone in ("more", "youtube", "endnote", "note info", "lang:js", "raw %}"):
        assert gone not in text, gone


def test_hugo_shortcodes_kramdown_lists_containers_and_math() -> None:
    body = (
        "* TOC\n{:toc}\n\n{{< notice tip >}}短代码里的**文字**{{< /notice >}}\n\n"
        '{{< figure src="a.png" title="图一的标题" >}}\n\n'
        "::: tip 小提示\n容器里的内容\n:::\n\n"
        "公式 $E = mc^2$ 和\n$$\n\\sum_{i=1}^n a_i\n$$\n价格 $5 和 $10。\n"
    )
    text = markdown_to_text(body)
    for kept in ("短代码里的文字", "图一的标题", "小提示", "容器里的内容", "E = mc^2",
                 "\\sum_{i=1}^n a_i", "价格 $5 和 $10。"):
        assert kept in text, kept
    for gone in ("{:", "{{", "}}", ":::", "$$", "notice", "figure", "a.png"):
        assert gone not in text, gone


def test_leading_heading_only_when_it_opens_the_body() -> None:
    text, rendered = read_markdown("## 第一节 **重点**\n\n正文")
    assert leading_heading(rendered, text) == "第一节 重点"
    text, rendered = read_markdown("前言\n\n## 第二节\n")
    assert leading_heading(rendered, text) is None


def test_loss_warning_names_a_body_whose_text_is_much_shorter() -> None:
    body = "<p>" + "正文" * 300 + "</p>"
    assert loss_warning(body, html_to_text(body)) is None
    warning = loss_warning(body, "正文" * 10)
    assert warning is not None and "shorter than the body" in warning
    # markup, URLs and template tags are not text: their absence is no loss
    markdown = "[文字](https://example.com/" + "x" * 500 + ")\n{% include_code " + "y" * 300 + " %}"
    assert loss_warning(markdown, markdown_to_text(markdown)) is None


# --- bodies that open with HTML are read chunk by chunk; the text must be the parser's -----------


def _assert_chunks_agree(bodies: list[str]) -> int:
    from searcher.ingest.markdown_html import opens_with_html, parser_html, render_html_body

    taken = 0
    for body in bodies:
        chunked = render_html_body(body) if opens_with_html(body) else None
        if chunked is not None:
            taken += 1
            whole = parser_html(body, indented_code=False)
            assert html_to_text(chunked) == html_to_text(whole), body[:200]
    return taken


def test_chunked_html_bodies_agree_with_the_parser_on_constructed_bodies() -> None:
    bodies = [
        "<div>\n<p>一</p>\n\n[查看原文](https://x.org/a)\n</div>\n   ",
        "<div>\n<p>一</p>\n\n**粗** 与 [链接](u) 和 `代码`\n<p>二</p>\n\n- 列表\n- 项\n\n</div>",
        "<p>a</p>\n\n<img src=x alt='图'>\n\n\n<span>行内</span>\n文字 *强调*\n\n<hr>\n\n# 标题",
        "<section>\n\n    缩进的文字\n\n</section>\n\n> 引用\n<div>块</div>",
    ]
    assert _assert_chunks_agree(bodies) == len(bodies)
    # what could span a blank line is read whole
    for body in ("<div>\n\n```\ncode\n\n<p>x</p>\n```", "<div>\n<pre>\na\n\nb</pre>",
                 "<p>x</p>\n\n[a]: http://x", "<p>x</p>\n\n$$\na\n\nb\n$$"):
        assert _assert_chunks_agree([body]) == 0


@needs_shared
def test_chunked_html_bodies_agree_with_the_parser_on_real_articles(corpus_2k) -> None:
    _, corpus, _ = corpus_2k
    news = _bodies(corpus)
    assert _assert_chunks_agree(news) == len(news)
    assert _assert_chunks_agree(_bodies(SHARED / "corpus" / "rsshub")) >= 60
    assert _assert_chunks_agree(_bodies(SAMPLE_DOCS)) >= 1


def test_an_unclosed_script_tag_in_prose_is_text() -> None:
    """A feed that unescaped its source (置于 <script> 标签中) must not lose the rest."""
    markup = "<p>置于 <script> 标签中，</p><p>后文</p><style>p {}</style><p>尾</p>"
    assert html_to_text(markup).split() == ["置于", "<script>", "标签中，", "后文", "尾"]
    closed = "<p>前</p><script>var x = 1;</script><p>尾</p>"
    assert html_to_text(closed).split() == ["前", "尾"]


@needs_shared
def test_real_feed_articles_lose_no_text() -> None:
    from searcher.ingest.documents import load_document

    feed = SHARED / "corpus" / "rsshub"
    docs = [load_document(p, feed) for p in sorted(feed.glob("*.md"))]
    assert not [(d.relpath, w) for d in docs for w in d.warnings if "shorter than" in w]
    article = next(d for d in docs if d.relpath == "068.md")
    assert "置于 <script> 标签中" in article.body and "Flutter" in article.body[-3000:]


def _assert_lxml_agrees(markups: list[str]) -> int:
    from searcher.ingest.html_text import escape_stray_brackets, lxml_to_text

    compared = 0
    for markup in map(escape_stray_brackets, markups):
        text = lxml_to_text(markup)
        if text is not None:
            compared += 1
            assert text == soup_to_text(markup), markup[:200]
    return compared


def test_lxml_reader_gives_the_soup_text() -> None:
    from searcher.ingest.markdown_html import render_markdown

    pieces = ["<p>a <b>b</b></p>\n\n<pre><code>  x\n\n  y</code></pre>", "<table><tr><td>格"
              "</td></tr></table><ul><li>一</li></ul> tail", "<div>\n  <p>\n</p>  <img alt='图'>"
              "<script>x</script><!-- c --></div>", "纯文本 a<b", "&nbsp;&amp; <br> x"]
    assert _assert_lxml_agrees(pieces) == len(pieces)
    assert _assert_lxml_agrees([render_markdown(b) for b in _bodies(SAMPLE_DOCS)]) >= 13


@needs_shared
def test_lxml_reader_gives_the_soup_text_on_real_articles() -> None:
    from searcher.ingest.markdown_html import render_markdown

    for folder in (SHARED / "corpus" / "rsshub", SHARED / "corpus" / "blogs"):
        bodies = _bodies(folder)
        assert _assert_lxml_agrees([render_markdown(b) for b in bodies]) == len(bodies)
    feed = _bodies(SHARED / "corpus" / "rsshub")  # HTML bodies, read as HTML too
    assert _assert_lxml_agrees(feed) == len(feed)

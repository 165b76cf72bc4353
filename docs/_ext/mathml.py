"""Formulas rendered into the HTML pages as MathML at build time (no script, no CDN).

Sphinx's default renderer, MathJax, loads a script from a CDN in the reader's browser. This
one converts each formula's LaTeX with ``latex2mathml`` while the site is built, so the pages
show their formulas offline, and browsers draw MathML natively (MathML Core). The LaTeX source
stays in the page as the formula's annotation (what screen readers and copy-paste get).

Write formulas in the Markdown pages as ``$...$`` (inline) or ``$$...$$`` (display), MyST's
``dollarmath``; reST's ``:math:`` and ``.. math::`` work too. A formula ``latex2mathml`` cannot
read, or that uses a command it does not know (``\\bigl\\lvert``), fails the build with the
formula.
"""

import re

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.errors import ExtensionError
from sphinx.util.math import get_node_equation_number


def to_mathml(latex, display):
    """``<math>`` for ``latex``, with the LaTeX kept as its annotation."""
    try:
        mathml = convert(latex, display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises its own error types
        raise ExtensionError(f"latex2mathml cannot read the formula {latex!r}: {exc}") from exc
    # a command latex2mathml does not know is written out as text: fail instead of showing it
    unknown = re.search(r">(\\[A-Za-z]+|\\[{}])", mathml)
    if unknown:
        raise ExtensionError(f"latex2mathml does not know {unknown.group(1)!r} in the formula "
                             f"{latex!r}: write it another way")
    semantics, annotation = "<semantics>", (
        '<annotation encoding="application/x-tex">'
        + latex.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        + "</annotation></semantics>")
    start = mathml.index(">") + 1          # after the <math ...> tag
    end = mathml.rindex("</math>")
    return mathml[:start] + semantics + mathml[start:end] + annotation + mathml[end:]


def visit_math(self, node):
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate"))
    self.body.append(to_mathml(node.astext(), display=False) + "</span>")
    raise nodes.SkipNode


def visit_displaymath(self, node):
    self.body.append(self.starttag(node, "div", CLASS="math notranslate"))
    if node["number"]:
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})')
        self.add_permalink_ref(node, "Link to this equation")
        self.body.append("</span>")
    # blank-line-separated formulas of one block are shown one below the other
    for part in (p for p in node.astext().split("\n\n") if p.strip()):
        self.body.append(to_mathml(part.strip(), display=True))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

"""The forms of a rendered page, as a browser would submit them.

The hostile-input tests read a form's real field names (and a valid value for
each: the prefilled text, the selected option, the first radio) from the page
that shows it, so that they attack the form the user sees, not a list kept by
hand that drifts from it.
"""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit


@dataclass
class Field:
    name: str
    kind: str  # text, textarea, select, radio, checkbox, file, hidden, number, date…
    values: list[str] = field(default_factory=list)  # every value the page offers
    initial: list[str] = field(default_factory=list)  # what the browser would send
    multiple: bool = False


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: dict[str, Field] = field(default_factory=dict)

    def baseline(self) -> dict[str, list[str]]:
        """The data the browser sends when the user submits the form unchanged."""
        return {name: list(f.initial) for name, f in self.fields.items() if f.initial}


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._option: dict | None = None
        self._textarea: Field | None = None
        self._text: list[str] = []

    def _field(self, name: str, kind: str, multiple=False) -> Field:
        fields = self._form.fields
        if name not in fields:
            fields[name] = Field(name, kind, multiple=multiple)
        return fields[name]

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(
                action=a.get("action", ""),
                method=a.get("method", "get").lower(),
                enctype=a.get("enctype", ""),
            )
            self.forms.append(self._form)
            return
        if self._form is None or "name" not in a and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                if a.get("name"):
                    self._field(a["name"], "submit").values.append(a.get("value", ""))
                return
            f = self._field(a["name"], kind, multiple=kind in ("checkbox", "file"))
            value = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            f.values.append(value)
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    f.initial.append(value)
            elif kind != "file":
                f.initial.append(value)
        elif tag == "textarea":
            self._textarea = self._field(a["name"], "textarea")
            self._text = []
        elif tag == "select":
            self._select = self._field(a["name"], "select", multiple="multiple" in a)
        elif tag == "option" and self._select is not None:
            self._option = a
            self._text = []
        elif tag == "button" and a.get("name"):
            self._field(a["name"], "submit").values.append(a.get("value", ""))

    def handle_data(self, data):
        self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            for f in self._form.fields.values() if self._form else []:
                if f.kind == "radio" and not f.initial and f.values:
                    f.initial = [f.values[0]]
                if f.kind == "select" and not f.initial and f.values and not f.multiple:
                    f.initial = [f.values[0]]
            self._form = None
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self._textarea.values.append(text)
            self._textarea.initial.append(text.removeprefix("\n"))
            self._textarea = None
        elif tag == "option" and self._select is not None and self._option is not None:
            value = self._option.get("value", "".join(self._text).strip())
            self._select.values.append(value)
            if "selected" in self._option:
                self._select.initial.append(value)
            self._option = None
        elif tag == "select":
            self._select = None


def forms_of(html: str, page_url: str) -> list[Form]:
    parser = _Parser()
    parser.feed(html)
    for form in parser.forms:
        form.action = urlsplit(form.action or page_url).path or urlsplit(page_url).path
    return parser.forms


def form_posting_to(html: str, page_url: str, target: str) -> Form | None:
    """The POST form of the page whose action is ``target`` (a path); None if there is none."""
    for form in forms_of(html, page_url):
        if form.method == "post" and form.action == urlsplit(target).path:
            return form
    return None

"""Translations: every English source string has Dutch, placeholders survive, .mo files are fresh.

The catalogs live in lti_tool/web/translations; `bash scripts/i18n.sh all` refreshes them.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages import frontend
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from lti_tool import LOCALES, create_app
from lti_tool.db import db

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "lti_tool" / "web" / "translations"
# Flask-Babel's lazy variants; babel.cfg and scripts/i18n.sh name the same keywords.
LAZY_KEYWORDS = ["_l", "lazy_gettext", "lazy_ngettext:1,2", "lazy_pgettext:1c,2"]
# %(name)s, %s, %d, %% ...: anything Python's %-formatting would interpret.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]")


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def load_po(locale: str) -> Catalog:
    with po_path(locale).open("rb") as f:
        return read_po(f, locale=locale)


def extracted_msgids() -> dict[str, str]:
    """What `pybabel extract -F babel.cfg` finds: msgid -> first location, for messages."""
    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse(f)
    keywords = {**DEFAULT_KEYWORDS, **frontend.parse_keywords(LAZY_KEYWORDS)}
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def source_msgids() -> dict[str, str]:
    return extracted_msgids()


def test_extraction_sees_python_lazy_and_template_strings(source_msgids: dict[str, str]) -> None:
    # _l() in launch/errors.py, gettext as _ in web/views.py, {{ _() }} in a template: if one of
    # these disappears, the configuration (not the translators) is at fault.
    assert "This launch has expired" in source_msgids
    assert "video coach" in source_msgids
    assert "Manual configuration" in source_msgids
    assert "Open Beeldcoach as %(name)s" in source_msgids


def test_every_source_string_has_a_dutch_translation(source_msgids: dict[str, str]) -> None:
    catalog = load_po("nl")
    problems = []
    for msgid, where in sorted(source_msgids.items(), key=lambda item: item[1]):
        message = catalog.get(msgid)
        if message is None:
            problems.append(f"{where}: not in nl/messages.po (run scripts/i18n.sh all): {msgid!r}")
        elif not message.string:
            problems.append(f"{where}: no Dutch translation: {msgid!r}")
        elif message.fuzzy:
            problems.append(f"{where}: Dutch translation is marked fuzzy: {msgid!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_has_no_fuzzy_header_or_entries(locale: str) -> None:
    catalog = load_po(locale)
    assert not catalog.fuzzy, f"{locale}: the catalog header is marked fuzzy; it would not compile"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"{locale}: fuzzy entries: {fuzzy}"


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text))


def test_dutch_placeholders_match_the_source() -> None:
    problems = []
    for message in load_po("nl"):
        if not message.id or not message.string:
            continue
        msgid, msgstr = str(message.id), str(message.string)
        if placeholders(msgid) != placeholders(msgstr):
            problems.append(
                f"{msgid!r}: {sorted(placeholders(msgid).elements())} in English, "
                f"{sorted(placeholders(msgstr).elements())} in Dutch"
            )
            continue
        stray = PLACEHOLDER.sub("", msgstr)
        if "%" in stray:
            problems.append(f"{msgid!r}: a lone % in the Dutch text (write %% or leave it out)")
            continue
        # Jinja's i18n extension %-formats every translated string, also without variables.
        names = re.findall(r"%\(([^)]*)\)", msgstr)
        try:
            msgstr % dict.fromkeys(names, "x")
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{msgid!r}: Dutch text does not format: {exc}")
    assert not problems, "\n".join(problems)


def _messages(catalog: Catalog) -> dict[tuple[str, str | None], object]:
    return {(str(m.id), m.context): m.string for m in catalog if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalog_is_up_to_date(locale: str) -> None:
    mo_path = po_path(locale).with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} is missing: run bash scripts/i18n.sh compile"
    buffer = io.BytesIO()
    write_mo(buffer, load_po(locale))
    buffer.seek(0)
    expected = read_mo(buffer)
    with mo_path.open("rb") as f:
        committed = read_mo(f)
    assert _messages(committed) == _messages(expected), (
        f"{mo_path.relative_to(ROOT)} is older than its .po: run bash scripts/i18n.sh compile"
    )
    assert committed.plural_forms == expected.plural_forms


def test_compiled_catalogs_are_not_ignored_by_git() -> None:
    """A fresh install needs the .mo files: no .gitignore pattern may exclude them."""
    import fnmatch

    patterns = [
        line.strip()
        for line in (ROOT / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for locale in LOCALES:
        mo = po_path(locale).with_suffix(".mo").relative_to(ROOT)
        assert (ROOT / mo).exists(), mo
        for pattern in patterns:
            bare = pattern.rstrip("/")
            hits = (
                fnmatch.fnmatch(mo.name, bare)
                or fnmatch.fnmatch(str(mo), bare)
                or any(fnmatch.fnmatch(part, bare) for part in mo.parts)
            )
            assert not hits, f".gitignore pattern {pattern!r} excludes {mo}"


def test_demo_people_descriptions_are_translated() -> None:
    from lti_tool.demo.platform import PEOPLE

    catalog = load_po("nl")
    missing = [
        p.description for p in PEOPLE if not getattr(catalog.get(p.description), "string", "")
    ]
    assert not missing, f"no Dutch for demo descriptions: {missing}"


# --- Rendering --------------------------------------------------------------------------------


@pytest.fixture
def i18n_app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"instance_path": str(tmp_path), "database_url": f"sqlite:///{tmp_path}/t.db"})
    app.config["TESTING"] = True
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(i18n_app: Flask) -> FlaskClient:
    return i18n_app.test_client()


def test_config_page_is_dutch_by_default(client: FlaskClient) -> None:
    response = client.get("/lti/config")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="nl">' in html
    assert "Handmatige configuratie" in html
    assert "Beeldcoach registreren in je leeromgeving" in html
    assert "Manual configuration" not in html


def test_config_page_is_english_on_request(client: FlaskClient) -> None:
    response = client.get("/lti/config?lang=en")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Manual configuration" in html
    assert "Register Beeldcoach in your learning platform" in html
    assert "Handmatige configuratie" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "Het aanmeldverzoek is ongeldig"),
        ("?lang=en", "The login request is not valid"),
    ],
)
def test_lazy_refusal_texts_follow_the_language(
    client: FlaskClient, query: str, expected: str
) -> None:
    # A login without issuer is refused with a page built from _l() strings.
    response = client.get(f"/lti/login{query}")
    assert response.status_code == 400
    assert expected in response.get_data(as_text=True)

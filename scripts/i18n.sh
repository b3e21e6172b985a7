#!/usr/bin/env bash
# Translations for Beeldcoach: Dutch (nl) is the default interface language, English (en) on
# request. Source strings (msgids) are English: _()/gettext()/_l() in Python, {{ _("...") }}
# in templates under lti_tool/web/templates/. babel.cfg (repo root) says where to look.
#
# Workflow after changing texts in code or templates:
#   bash scripts/i18n.sh all        # extract + update + compile
#   # fill in every new or "#, fuzzy" msgstr in lti_tool/web/translations/nl/LC_MESSAGES/messages.po
#   # (remove the "#, fuzzy" line once the Dutch is right; keep %(name)s placeholders intact)
#   bash scripts/i18n.sh compile    # rebuild the .mo files, which are committed
#   python -m pytest tests/test_i18n.py -q
#
# Commands (run from anywhere; the script works from the repo root):
#   extract  source -> lti_tool/web/translations/messages.pot
#   update   messages.pot -> nl and en messages.po (created when missing)
#   compile  messages.po -> messages.mo for every locale
#   all      extract, update, compile
#
# English msgstrs may stay empty: gettext then shows the English msgid. The script is
# idempotent: when no source text changed, a rerun leaves every file byte-for-byte the same
# (a new POT-Creation-Date alone does not count as a change).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TRANSLATIONS=lti_tool/web/translations
POT=$TRANSLATIONS/messages.pot
DOMAIN=messages
LOCALES=(nl en)
# Keep in step with the `keywords` line in babel.cfg (older Babel versions ignore that line).
KEYWORDS=(-k _l -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2)

TMP_POT=""
trap 'rm -f "$TMP_POT"' EXIT

if [[ -x .venv/bin/pybabel ]]; then
    PYBABEL=.venv/bin/pybabel
elif command -v pybabel >/dev/null 2>&1; then
    PYBABEL=$(command -v pybabel)
else
    echo "i18n.sh: pybabel not found (install Babel: pip install babel)" >&2
    exit 1
fi

version() {
    sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -n 1
}

# The catalog without its POT-Creation-Date line, to compare two extractions.
strip_date() {
    grep -v '^"POT-Creation-Date: ' "$1" || true
}

extract() {
    local tmp
    tmp=$(mktemp "${TMPDIR:-/tmp}/beeldcoach-pot.XXXXXX")
    TMP_POT=$tmp
    "$PYBABEL" -q extract \
        -F babel.cfg "${KEYWORDS[@]}" \
        --add-comments=Translators: \
        --project=Beeldcoach --version="$(version)" --copyright-holder=Beeldcoach \
        --header-comment="# Beeldcoach interface texts: the English source strings.
# Workflow: scripts/i18n.sh (extract reads babel.cfg)." \
        -o "$tmp" .
    if [[ -f $POT ]] && diff -q <(strip_date "$POT") <(strip_date "$tmp") >/dev/null; then
        echo "extract: $POT unchanged"
    else
        mkdir -p "$TRANSLATIONS"
        cp "$tmp" "$POT"
        echo "extract: wrote $POT ($(catalog_stats "$POT" | cut -d, -f1))"
    fi
}

update() {
    [[ -f $POT ]] || extract
    local locale po fuzzy
    for locale in "${LOCALES[@]}"; do
        po=$TRANSLATIONS/$locale/LC_MESSAGES/$DOMAIN.po
        # English needs no translations, so no guessed ("fuzzy") ones either.
        fuzzy=()
        [[ $locale == en ]] && fuzzy=(--no-fuzzy-matching)
        if [[ -f $po ]]; then
            "$PYBABEL" -q update -i "$POT" -d "$TRANSLATIONS" -D "$DOMAIN" -l "$locale" \
                --ignore-obsolete "${fuzzy[@]}"
        else
            "$PYBABEL" -q init -i "$POT" -d "$TRANSLATIONS" -D "$DOMAIN" -l "$locale"
        fi
        echo "update: $po"
    done
    local untranslated
    untranslated=$(catalog_stats "$TRANSLATIONS/nl/LC_MESSAGES/$DOMAIN.po")
    echo "update: nl: $untranslated"
}

# "N untranslated, M fuzzy" for a catalog, so new work is visible right after an update.
catalog_stats() {
    local python=python3
    [[ -x .venv/bin/python ]] && python=.venv/bin/python
    "$python" - "$1" 2>/dev/null <<'EOF' || echo "(no statistics: Babel is not importable by $python)"
import sys
from babel.messages.pofile import read_po

with open(sys.argv[1], "rb") as f:
    catalog = read_po(f)
messages = [m for m in catalog if m.id]
empty = sum(1 for m in messages if not m.string)
fuzzy = sum(1 for m in messages if m.fuzzy)
print(f"{len(messages)} messages, {empty} untranslated, {fuzzy} fuzzy")
EOF
}

compile() {
    "$PYBABEL" compile -d "$TRANSLATIONS" -D "$DOMAIN" --statistics
}

case "${1:-}" in
    extract) extract ;;
    update) update ;;
    compile) compile ;;
    all)
        extract
        update
        compile
        ;;
    *)
        echo "usage: bash scripts/i18n.sh {extract|update|compile|all}" >&2
        exit 2
        ;;
esac

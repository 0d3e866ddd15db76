# Shared by the bench scripts (sourced): their arguments, how they build ember and how they put a table into docs/benchmarks.md.

# bench_args "$@": --write-docs sets write_docs=true; -h/--help prints the calling script's header comment.
bench_args() {
  write_docs=false
  for a in "$@"; do
    case $a in
      --write-docs) write_docs=true ;;
      -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
      *) echo "unknown argument: $a" >&2; exit 2 ;;
    esac
  done
}

# write_docs_section NAME HEADING TEXT: TEXT replaces what stands between <!-- NAME:begin --> and <!-- NAME:end -->
# in docs/benchmarks.md; the first time, the section is appended under "## HEADING". Other sections stay as they are.
write_docs_section() {
  local doc
  doc="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/docs/benchmarks.md"
  /usr/bin/python3 - "$doc" "$1" "$2" "$3" <<'PYEOF'
import re, sys
path, name, heading, text = sys.argv[1:5]
begin, end = '<!-- %s:begin -->' % name, '<!-- %s:end -->' % name
block = '%s\n%s\n%s' % (begin, text, end)
doc = open(path).read()
if begin in doc:
    doc = re.sub(re.escape(begin) + '.*?' + re.escape(end), lambda m: block, doc, flags=re.S)
else:
    doc += '\n## %s\n\n%s\n' % (heading, block)
open(path, 'w').write(doc)
PYEOF
  echo "wrote $doc" >&2
}

# Builds the ember CLI (Release) with ember-server beside it, which `ember serve` execs, into DIR; the log goes to LOG.
build_ember() { # DIR LOG
  local project
  for project in Ember Ember.Serve; do
    dotnet build "$repo/src/$project" -c Release -o "$1" -v quiet -nologo >> "$2" || return 1
  done
}

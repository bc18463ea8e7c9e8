# Generates single_quotes.json: what Ocean's single-quote rewrite (Python's
# re.sub with the pattern below) makes of hand-picked and random jq
# expressions. The Go rewrite must give the same output for each.
#   python3 single_quotes.py > single_quotes.json
import json
import random
import re

PATTERN = re.compile(r'(^|\s)\'(?!\s|")|(?<!\s|")\'(\s|$)')

cases = [
    "", "'", "''", "' '", "'a'", "'a' 'b'", "'a' + 'b'", "' x", "x '", "'a b'",
    ".a == 'b'", "'it''s'", "\"it's\"", ".a|test('x')", "'a'\n", "\n'a'\n",
    "x\x1c'a'", "'a'\u00a0'b'", "\t'a'\t", "'a' '", "a''b", "'\"'",
    ".name + ' (' + .id + ')'", "if .x then 'yes' else 'no' end",
    "[.tags[] | select(. == 'prod')]", "'\u2003'", "\u2003'a'\u2003",
    "'multi\nline'", "\"a\" + 'b'", "'a'+'b'", "('a')", " 'a' ",
]
rng = random.Random(20261122)
alphabet = ["'", "'", "'", '"', " ", "\t", "\n", "\x1c", "\u00a0", "\u2003", "a", ".", "(", ")", "+", "é"]
for _ in range(400):
    cases.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))))

print(json.dumps([{"in": c, "out": PATTERN.sub(r'\1"\2', c)} for c in cases], indent=1, ensure_ascii=True))

"""Textile as Redmine 5.0 shows it: Redmine's own RedCloth3 (lib/redmine/wiki_formatting/textile/
redcloth3.rb from Debian's redmine package, installed by tests/redmine/install.sh) with the
settings and the ``hard_break`` of Redmine's Textile formatter (formatter.rb), run by ruby."""

from __future__ import annotations

import subprocess

from tests.fixtures.redmine import REDMINE_ROOT, ensure_installed

_SCRIPT = r'''
require "active_support/all"
module Redmine; module Helpers; module URL
  def uri_with_safe_scheme?(uri, schemes = nil) true end
  def uri_with_link_safe_scheme?(uri) true end
end; end; end
require ARGV[0]
class RedCloth3
  def hard_break(text)  # Redmine::WikiFormatting::Textile::Formatter#hard_break
    text.gsub!(/(.)\n(?!\n|\Z| *([#*=]+(\s|$)|[{|]))/, "\\1<br />") if hard_breaks
  end
end
r = RedCloth3.new(STDIN.read)
r.hard_breaks = true
r.no_span_caps = true
r.filter_styles = false
print r.to_html(:textile)
'''


def redmine_textile_html(text: str) -> str:
    """The HTML Redmine's RedCloth3 makes of ``text`` (before Redmine's own links and macros)."""
    ensure_installed()
    source = REDMINE_ROOT / "lib" / "redmine" / "wiki_formatting" / "textile" / "redcloth3.rb"
    done = subprocess.run(["ruby", "-e", _SCRIPT, str(source)], input=text, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout

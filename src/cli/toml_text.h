// The config file's text as toml++ is given it: ASCII only.
//
// toml++ 3.3 (Debian 12) reaches undefined behaviour on some characters
// outside ASCII (its non-ASCII whitespace table has holes: U+00A1..U+0499,
// U+2D6E..U+3167 and U+FC06..U+FEFE fall through to __builtin_unreachable),
// and where it looks for whitespace depends on how far it got in a broken
// file, so no rule about *where* such a character may stand is safe (the
// config fuzzer found one after another). Instead, the file is rewritten so
// that toml++ never sees a byte outside ASCII, with the same meaning:
//   - in a "basic" string, each such character becomes its \uXXXX escape;
//   - a 'literal' string holding one becomes the equal "basic" string;
//   - in a comment, each becomes a space (a comment means nothing);
//   - anywhere else TOML allows none: refused with its line.
// Lines stay where they were, so toml++'s line numbers still name the file's
// lines (columns after such a character may differ). Bytes that are not
// UTF-8 are refused with their line.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace pm {

// `text` with every character outside ASCII rewritten as above, or an
// kInvalid error "line N: ..." naming what was wrong.
Result<std::string> AsciiToml(std::string_view text);

}  // namespace pm

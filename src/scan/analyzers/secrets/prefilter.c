/*
 * The keyword prefilter in WebAssembly SIMD: every occurrence of a set of ASCII keywords in a byte
 * string, case-insensitively, reported in the order an Aho-Corasick automaton reports them (by end,
 * longest first at one end). Built by tools/build-wasm.mjs into prefilter-wasm.ts; keywords.ts fills
 * the tables and falls back to its own automaton wherever this module is not used.
 *
 * Two stages. (1) Sixteen positions at a time, the first four characters (ASCII letters folded) are
 * looked up by their low and high nibble in eight buckets of keywords (the "Teddy" method of
 * Hyperscan and Rust's aho-corasick): a position where some bucket accepts all four is a candidate;
 * random and binary bytes rarely are. (2) At a candidate, the four characters hash to a slot that
 * lists the keywords starting with them (a shorter keyword under every completion), each compared
 * whole. The input is followed by at least 32 NUL bytes: the loads read past its end, and NUL is in
 * no keyword.
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define SLOTS 65536

typedef struct {
  /* Buckets (one bit each) accepting a character at positions 0-3 of a keyword, by its low and high nibble. */
  uint8_t lo[4][16];
  uint8_t hi[4][16];
  /* Keyword k is chars[keyword_offset[k], keyword_offset[k + 1]), folded. */
  uint32_t keyword_offset[257];
  uint32_t slot_start[SLOTS + 1];
  uint16_t slot_keywords[65536];
  uint8_t chars[8192];
} tables_t;

static inline v128_t fold(v128_t v) {
  v128_t upper = wasm_v128_and(wasm_u8x16_ge(v, wasm_i8x16_splat('A')), wasm_u8x16_le(v, wasm_i8x16_splat('Z')));
  return wasm_v128_or(v, wasm_v128_and(upper, wasm_i8x16_splat(0x20)));
}

static inline v128_t accepting(v128_t v, v128_t lo, v128_t hi) {
  return wasm_v128_and(wasm_i8x16_swizzle(lo, wasm_v128_and(v, wasm_i8x16_splat(0x0f))), wasm_i8x16_swizzle(hi, wasm_u8x16_shr(v, 4)));
}

/* A byte as keywords are compared: ASCII letters lowercased, anything past ASCII matching nothing. */
static inline uint32_t fold1(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : (c < 128 ? c : 0); }

static inline uint32_t slot_of(uint32_t gram) { return (gram * 0x9e3779b1u) >> 16; }

/* The slot of four folded characters (first in the low byte): keywords.ts fills the slots with it. */
__attribute__((export_name("slot"))) uint32_t slot(uint32_t gram) { return slot_of(gram); }

/*
 * Writes each occurrence as (keyword, start) pairs to out (room for cap numbers) and returns their
 * number, or -1 when out is too small.
 */
__attribute__((export_name("scan")))
int32_t scan(const tables_t *t, const uint8_t *in, uint32_t len, uint32_t *out, uint32_t cap) {
  const v128_t lo0 = wasm_v128_load(t->lo[0]), lo1 = wasm_v128_load(t->lo[1]), lo2 = wasm_v128_load(t->lo[2]), lo3 = wasm_v128_load(t->lo[3]);
  const v128_t hi0 = wasm_v128_load(t->hi[0]), hi1 = wasm_v128_load(t->hi[1]), hi2 = wasm_v128_load(t->hi[2]), hi3 = wasm_v128_load(t->hi[3]);
  const v128_t zero = wasm_i8x16_splat(0);
  uint32_t n = 0;
  for (uint32_t i = 0; i < len; i += 16) {
    v128_t m = accepting(fold(wasm_v128_load(in + i)), lo0, hi0);
    m = wasm_v128_and(m, accepting(fold(wasm_v128_load(in + i + 1)), lo1, hi1));
    m = wasm_v128_and(m, accepting(fold(wasm_v128_load(in + i + 2)), lo2, hi2));
    m = wasm_v128_and(m, accepting(fold(wasm_v128_load(in + i + 3)), lo3, hi3));
    if (!wasm_v128_any_true(m)) continue;
    uint32_t bits = wasm_i8x16_bitmask(wasm_i8x16_ne(m, zero));
    while (bits) {
      uint32_t p = i + __builtin_ctz(bits);
      bits &= bits - 1;
      if (p >= len) break;
      uint32_t gram = fold1(in[p]) | fold1(in[p + 1]) << 8 | fold1(in[p + 2]) << 16 | fold1(in[p + 3]) << 24;
      uint32_t s = slot_of(gram);
      for (uint32_t q = t->slot_start[s]; q < t->slot_start[s + 1]; q++) {
        uint32_t k = t->slot_keywords[q];
        uint32_t from = t->keyword_offset[k], length = t->keyword_offset[k + 1] - from;
        if (length > len - p) continue;
        uint32_t x = 0;
        while (x < length && fold1(in[p + x]) == t->chars[from + x]) x++;
        if (x != length) continue;
        if (n + 2 > cap) return -1;
        /* Found in order of start, kept in order of end (longest first at one end; a keyword listed twice,
         * in order) by insertion from the tail: a hit moves back past those ending later, a few at most. */
        uint32_t end = p + length, at = n;
        while (at > 0) {
          uint32_t pk = out[at - 2], pp = out[at - 1];
          uint32_t plen = t->keyword_offset[pk + 1] - t->keyword_offset[pk];
          if (pp + plen < end || (pp + plen == end && plen >= length)) break;
          out[at] = pk;
          out[at + 1] = pp;
          at -= 2;
        }
        out[at] = k;
        out[at + 1] = p;
        n += 2;
      }
    }
  }
  return (int32_t)(n / 2);
}

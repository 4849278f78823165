#pragma once
/// \file
/// SHA-256 (FIPS 180-4, section 6.2), the digest that model files carry to detect any changed byte.
///
///   Sha256 h;  h.update(bytes);  std::string hex = to_hex(h.finish());
///   std::string hex = sha256_hex("abc");   // "ba7816bf..."
///
/// The message is padded to a multiple of 512 bits: a 1 bit, zeros, and the bit length ℓ as a 64-bit
/// big-endian integer (so ℓ + 1 + k + 64 ≡ 0 mod 512). Each 512-bit block M updates the state
/// H₀..H₇ (initially the first 32 bits of the fractional parts of the square roots of the first 8 primes):
///   schedule  W_t = M_t (t < 16),  W_t = σ₁(W_{t−2}) + W_{t−7} + σ₀(W_{t−15}) + W_{t−16}
///   64 rounds T₁ = h + Σ₁(e) + Ch(e, f, g) + K_t + W_t,  T₂ = Σ₀(a) + Maj(a, b, c)
///             h = g, g = f, f = e, e = d + T₁, d = c, c = b, b = a, a = T₁ + T₂
///   then      H_i += (a, b, ..., h)_i
/// with Ch(x, y, z) = (x ∧ y) ⊕ (¬x ∧ z), Maj(x, y, z) = (x ∧ y) ⊕ (x ∧ z) ⊕ (y ∧ z),
///   Σ₀(x) = ROTR²(x) ⊕ ROTR¹³(x) ⊕ ROTR²²(x),  Σ₁(x) = ROTR⁶(x) ⊕ ROTR¹¹(x) ⊕ ROTR²⁵(x),
///   σ₀(x) = ROTR⁷(x) ⊕ ROTR¹⁸(x) ⊕ SHR³(x),     σ₁(x) = ROTR¹⁷(x) ⊕ ROTR¹⁹(x) ⊕ SHR¹⁰(x),
/// all additions mod 2³², and K_t the first 32 bits of the fractional parts of the cube roots of the first
/// 64 primes. The digest is H₀..H₇ big-endian.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace aimastery {

using Sha256Digest = std::array<std::uint8_t, 32>;

class Sha256 {
 public:
  Sha256() = default;

  /// Appends bytes to the message.
  Sha256& update(std::span<const std::uint8_t> bytes) noexcept {
    if (bytes.empty()) return *this;  // memcpy must not see the null data() of an empty span
    const std::uint8_t* p = bytes.data();
    std::size_t n = bytes.size();
    length_ += n;
    if (filled_ > 0) {
      const std::size_t take = std::min(n, block_.size() - filled_);
      std::memcpy(block_.data() + filled_, p, take);
      filled_ += take;
      p += take;
      n -= take;
      if (filled_ < block_.size()) return *this;
      compress(block_.data());
      filled_ = 0;
    }
    for (; n >= 64; p += 64, n -= 64) compress(p);
    if (n > 0) std::memcpy(block_.data(), p, n);
    filled_ = n;
    return *this;
  }
  Sha256& update(std::string_view text) noexcept {
    return update({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }

  /// Pads, processes the last block(s) and returns the digest. The object is reset afterwards.
  Sha256Digest finish() noexcept {
    const std::uint64_t bits = length_ * 8;
    const std::uint8_t one = 0x80;
    update({&one, 1});
    const std::uint8_t zero = 0;
    while (filled_ != 56) update({&zero, 1});
    std::uint8_t tail[8];
    for (int i = 0; i < 8; ++i) tail[i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
    update({tail, 8});
    Sha256Digest out{};
    for (int i = 0; i < 8; ++i)
      for (int b = 0; b < 4; ++b)
        out[static_cast<std::size_t>(4 * i + b)] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * b));
    *this = Sha256();
    return out;
  }

 private:
  static constexpr std::uint32_t k_[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

  void compress(const std::uint8_t* block) noexcept {
    std::uint32_t w[64];
    for (int t = 0; t < 16; ++t)
      w[t] = (std::uint32_t(block[4 * t]) << 24) | (std::uint32_t(block[4 * t + 1]) << 16) |
             (std::uint32_t(block[4 * t + 2]) << 8) | std::uint32_t(block[4 * t + 3]);
    for (int t = 16; t < 64; ++t) {
      const std::uint32_t s0 = std::rotr(w[t - 15], 7) ^ std::rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const std::uint32_t s1 = std::rotr(w[t - 2], 17) ^ std::rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = s1 + w[t - 7] + s0 + w[t - 16];
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int t = 0; t < 64; ++t) {
      const std::uint32_t S1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
      const std::uint32_t ch = (e & f) ^ (~e & g);
      const std::uint32_t t1 = h + S1 + ch + k_[t] + w[t];
      const std::uint32_t S0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
      const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const std::uint32_t t2 = S0 + maj;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<std::uint8_t, 64> block_{};
  std::size_t filled_ = 0;
  std::uint64_t length_ = 0;
};

/// Lower-case hexadecimal of a digest (64 characters).
inline std::string to_hex(const Sha256Digest& digest) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = digits[digest[i] >> 4];
    out[2 * i + 1] = digits[digest[i] & 0xf];
  }
  return out;
}

/// The SHA-256 of `bytes` as 64 hexadecimal characters.
inline std::string sha256_hex(std::span<const std::uint8_t> bytes) { return to_hex(Sha256().update(bytes).finish()); }
inline std::string sha256_hex(std::string_view text) { return to_hex(Sha256().update(text).finish()); }

}  // namespace aimastery

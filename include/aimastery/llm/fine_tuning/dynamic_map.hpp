#pragma once
/// \file
/// Blockwise 8-bit quantisation with the dynamic map: how bitsandbytes stores statistics compactly (its
/// `quantize_blockwise`), used here for NF4's double quantisation of the per-block absmax values.
///
/// The dynamic map (Dettmers, "8-Bit Approximations for Parallelism in Deep Learning", 2016) spends one bit
/// on the sign and the rest on a decimal exponent 10^(−6 … 0) with a linear fraction whose number of steps
/// doubles with every exponent: 256 values in [−1, 1], dense near zero. The table below is the one
/// bitsandbytes' `create_dynamic_map(signed=True)` builds (tests/reference/gen_llm_nf4.py checks it).
///
/// A block of `blocksize` values x is stored as its absmax a = max |xᵢ| and, for each value, the index of a
/// map entry near xᵢ / a. bitsandbytes' CPU kernel (which this follows exactly, so the bytes agree) finds it
/// through a table: [−1, 1] is cut into 65536 points vⱼ = −1 + 2j/65535, each point is given the index of
/// its nearest map entry (the number of midpoints between neighbouring entries that lie below it), and a
/// value uses the table entry of its nearest point, j = ⌊(x/a + 1)/2 · 65535 + ½⌋. A block of zeros stores
/// index 0 (its values restore to 0, since a = 0).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>

namespace aimastery {

namespace detail {
inline constexpr std::array<float, 256> dynamic_map_values = {
    -0x1.fc6666p-1f,  -0x1.f53334p-1f,  -0x1.eep-1f,      -0x1.e6ccccp-1f,
    -0x1.df999ap-1f,  -0x1.d86666p-1f,  -0x1.d13334p-1f,  -0x1.cap-1f,
    -0x1.c2ccccp-1f,  -0x1.bb999ap-1f,  -0x1.b46666p-1f,  -0x1.ad3334p-1f,
    -0x1.a6p-1f,      -0x1.9eccccp-1f,  -0x1.97999ap-1f,  -0x1.906666p-1f,
    -0x1.893334p-1f,  -0x1.82p-1f,      -0x1.7accccp-1f,  -0x1.73999ap-1f,
    -0x1.6c6668p-1f,  -0x1.653334p-1f,  -0x1.5ep-1f,      -0x1.56ccccp-1f,
    -0x1.4f999ap-1f,  -0x1.486668p-1f,  -0x1.413334p-1f,  -0x1.3ap-1f,
    -0x1.32ccccp-1f,  -0x1.2b999ap-1f,  -0x1.246668p-1f,  -0x1.1d3334p-1f,
    -0x1.16p-1f,      -0x1.0eccccp-1f,  -0x1.079998p-1f,  -0x1.006666p-1f,
    -0x1.f26664p-2f,  -0x1.e4p-2f,      -0x1.d59998p-2f,  -0x1.c73334p-2f,
    -0x1.b8ccccp-2f,  -0x1.aa6666p-2f,  -0x1.9cp-2f,      -0x1.8d9998p-2f,
    -0x1.7f3334p-2f,  -0x1.70ccccp-2f,  -0x1.626666p-2f,  -0x1.54p-2f,
    -0x1.459998p-2f,  -0x1.373334p-2f,  -0x1.28ccccp-2f,  -0x1.1a6668p-2f,
    -0x1.0cp-2f,      -0x1.fb3332p-3f,  -0x1.de6666p-3f,  -0x1.c1999ap-3f,
    -0x1.a4ccccp-3f,  -0x1.88p-3f,      -0x1.6b3334p-3f,  -0x1.4e6666p-3f,
    -0x1.31999ap-3f,  -0x1.14ccccp-3f,  -0x1.fp-4f,       -0x1.b66668p-4f,
    -0x1.93d70ap-4f,  -0x1.8851eep-4f,  -0x1.7ccccep-4f,  -0x1.7147aep-4f,
    -0x1.65c29p-4f,   -0x1.5a3d7p-4f,   -0x1.4eb854p-4f,  -0x1.433334p-4f,
    -0x1.37ae14p-4f,  -0x1.2c28f6p-4f,  -0x1.20a3d6p-4f,  -0x1.151ebap-4f,
    -0x1.09999ap-4f,  -0x1.fc28f6p-5f,  -0x1.e51ebap-5f,  -0x1.ce147ap-5f,
    -0x1.b70a3ep-5f,  -0x1.ap-5f,       -0x1.88f5c2p-5f,  -0x1.71eb86p-5f,
    -0x1.5ae146p-5f,  -0x1.43d70ap-5f,  -0x1.2ccccep-5f,  -0x1.15c29p-5f,
    -0x1.fd70a4p-6f,  -0x1.cf5c2ap-6f,  -0x1.a147aep-6f,  -0x1.733334p-6f,
    -0x1.451ebap-6f,  -0x1.170a3ep-6f,  -0x1.d1eb86p-7f,  -0x1.75c29p-7f,
    -0x1.3e76c8p-7f,  -0x1.2c083p-7f,   -0x1.19999ap-7f,  -0x1.072b02p-7f,
    -0x1.e978d4p-8f,  -0x1.c49ba6p-8f,  -0x1.9fbe76p-8f,  -0x1.7ae148p-8f,
    -0x1.56041ap-8f,  -0x1.3126e8p-8f,  -0x1.0c49bap-8f,  -0x1.ced914p-9f,
    -0x1.851eb8p-9f,  -0x1.3b645ap-9f,  -0x1.e353f8p-10f, -0x1.4fdf3ap-10f,
    -0x1.eecbfep-11f, -0x1.b3d07cp-11f, -0x1.78d5p-11f,   -0x1.3dd982p-11f,
    -0x1.02de02p-11f, -0x1.8fc506p-12f, -0x1.19ce0ap-12f, -0x1.47ae16p-13f,
    -0x1.743e96p-14f, -0x1.15df66p-14f, -0x1.6f0068p-15f, -0x1.64840cp-16f,
    -0x1.040bfep-17f, -0x1.b43528p-19f, -0x1.27476ep-21f, 0.0f,
    0x1.27476ep-21f,  0x1.b43528p-19f,  0x1.040bfep-17f,  0x1.64840cp-16f,
    0x1.6f0068p-15f,  0x1.15df66p-14f,  0x1.743e96p-14f,  0x1.47ae16p-13f,
    0x1.19ce0ap-12f,  0x1.8fc506p-12f,  0x1.02de02p-11f,  0x1.3dd982p-11f,
    0x1.78d5p-11f,    0x1.b3d07cp-11f,  0x1.eecbfep-11f,  0x1.4fdf3ap-10f,
    0x1.e353f8p-10f,  0x1.3b645ap-9f,   0x1.851eb8p-9f,   0x1.ced914p-9f,
    0x1.0c49bap-8f,   0x1.3126e8p-8f,   0x1.56041ap-8f,   0x1.7ae148p-8f,
    0x1.9fbe76p-8f,   0x1.c49ba6p-8f,   0x1.e978d4p-8f,   0x1.072b02p-7f,
    0x1.19999ap-7f,   0x1.2c083p-7f,    0x1.3e76c8p-7f,   0x1.75c29p-7f,
    0x1.d1eb86p-7f,   0x1.170a3ep-6f,   0x1.451ebap-6f,   0x1.733334p-6f,
    0x1.a147aep-6f,   0x1.cf5c2ap-6f,   0x1.fd70a4p-6f,   0x1.15c29p-5f,
    0x1.2ccccep-5f,   0x1.43d70ap-5f,   0x1.5ae146p-5f,   0x1.71eb86p-5f,
    0x1.88f5c2p-5f,   0x1.ap-5f,        0x1.b70a3ep-5f,   0x1.ce147ap-5f,
    0x1.e51ebap-5f,   0x1.fc28f6p-5f,   0x1.09999ap-4f,   0x1.151ebap-4f,
    0x1.20a3d6p-4f,   0x1.2c28f6p-4f,   0x1.37ae14p-4f,   0x1.433334p-4f,
    0x1.4eb854p-4f,   0x1.5a3d7p-4f,    0x1.65c29p-4f,    0x1.7147aep-4f,
    0x1.7ccccep-4f,   0x1.8851eep-4f,   0x1.93d70ap-4f,   0x1.b66668p-4f,
    0x1.fp-4f,        0x1.14ccccp-3f,   0x1.31999ap-3f,   0x1.4e6666p-3f,
    0x1.6b3334p-3f,   0x1.88p-3f,       0x1.a4ccccp-3f,   0x1.c1999ap-3f,
    0x1.de6666p-3f,   0x1.fb3332p-3f,   0x1.0cp-2f,       0x1.1a6668p-2f,
    0x1.28ccccp-2f,   0x1.373334p-2f,   0x1.459998p-2f,   0x1.54p-2f,
    0x1.626666p-2f,   0x1.70ccccp-2f,   0x1.7f3334p-2f,   0x1.8d9998p-2f,
    0x1.9cp-2f,       0x1.aa6666p-2f,   0x1.b8ccccp-2f,   0x1.c73334p-2f,
    0x1.d59998p-2f,   0x1.e4p-2f,       0x1.f26664p-2f,   0x1.006666p-1f,
    0x1.079998p-1f,   0x1.0eccccp-1f,   0x1.16p-1f,       0x1.1d3334p-1f,
    0x1.246668p-1f,   0x1.2b999ap-1f,   0x1.32ccccp-1f,   0x1.3ap-1f,
    0x1.413334p-1f,   0x1.486668p-1f,   0x1.4f999ap-1f,   0x1.56ccccp-1f,
    0x1.5ep-1f,       0x1.653334p-1f,   0x1.6c6668p-1f,   0x1.73999ap-1f,
    0x1.7accccp-1f,   0x1.82p-1f,       0x1.893334p-1f,   0x1.906666p-1f,
    0x1.97999ap-1f,   0x1.9eccccp-1f,   0x1.a6p-1f,       0x1.ad3334p-1f,
    0x1.b46666p-1f,   0x1.bb999ap-1f,   0x1.c2ccccp-1f,   0x1.cap-1f,
    0x1.d13334p-1f,   0x1.d86666p-1f,   0x1.df999ap-1f,   0x1.e6ccccp-1f,
    0x1.eep-1f,       0x1.f53334p-1f,   0x1.fc6666p-1f,   0x1p+0f,
};
}  // namespace detail

/// bitsandbytes' signed 8-bit dynamic map, sorted ascending.
inline constexpr const std::array<float, 256>& dynamic_map() { return detail::dynamic_map_values; }

namespace detail {

inline constexpr int dynamic_map_table_size = 65536;

/// table[j] = the map index nearest to vⱼ = −1 + 2j/65535 (float arithmetic, as bitsandbytes builds it).
/// (A plain function, not a lambda: a compiler may try to evaluate a constexpr-able initialiser of a
/// static while compiling, 65,536 steps in every file that includes this header.)
inline std::array<std::uint8_t, dynamic_map_table_size> build_dynamic_map_table() {
  const auto& map = dynamic_map();
  std::array<float, 255> midpoints;
  for (std::size_t k = 0; k < 255; ++k) midpoints[k] = 0.5f * (map[k] + map[k + 1]);
  std::array<std::uint8_t, dynamic_map_table_size> t{};
  std::size_t code = 0;
  for (int j = 0; j < dynamic_map_table_size; ++j) {
    const float v = -1.0f + (2.0f * static_cast<float>(j)) / static_cast<float>(dynamic_map_table_size - 1);
    while (code < 255 && midpoints[code] < v) ++code;
    t[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>(code);
  }
  return t;
}

inline const std::array<std::uint8_t, dynamic_map_table_size>& dynamic_map_table() {
  static const auto table = build_dynamic_map_table();
  return table;
}

/// The table point nearest to x ∈ [−1, 1]: ⌊(x + 1)·½·65535 + ½⌋, each operation rounded to float
/// (written through double with explicit roundings so that no compiler fuses the multiply and the add).
inline std::size_t dynamic_map_point(float x) {
  const float half = (std::clamp(x, -1.0f, 1.0f) + 1.0f) * 0.5f;
  const auto scaled = static_cast<float>(static_cast<double>(half) * (dynamic_map_table_size - 1));
  const auto rounded = static_cast<float>(static_cast<double>(scaled) + 0.5);
  return static_cast<std::size_t>(rounded);
}

}  // namespace detail

/// Quantises `values` in blocks of `blocksize` with the dynamic map: `codes[i]` is the map index for
/// values[i] · (1/absmax[block]), and `absmax` gets one entry per block (the last block may be partial).
/// `codes` has values.size() entries and `absmax` ⌈size / blocksize⌉. Values must be finite.
inline void quantize_blockwise_8bit(std::span<const float> values, std::size_t blocksize, std::span<std::uint8_t> codes,
                                    std::span<float> absmax) {
  const auto& table = detail::dynamic_map_table();
  for (std::size_t begin = 0, block = 0; begin < values.size(); begin += blocksize, ++block) {
    const std::size_t end = std::min(values.size(), begin + blocksize);
    float a = 0.0f;
    for (std::size_t i = begin; i < end; ++i) a = std::max(a, std::abs(values[i]));
    absmax[block] = a;
    if (a == 0.0f) {
      std::fill(codes.begin() + static_cast<std::ptrdiff_t>(begin), codes.begin() + static_cast<std::ptrdiff_t>(end),
                0);
      continue;
    }
    const float reciprocal = 1.0f / a;
    for (std::size_t i = begin; i < end; ++i) codes[i] = table[detail::dynamic_map_point(values[i] * reciprocal)];
  }
}

/// The inverse: values[i] = map[codes[i]] · absmax[block].
inline void dequantize_blockwise_8bit(std::span<const std::uint8_t> codes, std::span<const float> absmax,
                                      std::size_t blocksize, std::span<float> values) {
  const auto& map = dynamic_map();
  for (std::size_t i = 0; i < codes.size(); ++i) values[i] = map[codes[i]] * absmax[i / blocksize];
}

}  // namespace aimastery

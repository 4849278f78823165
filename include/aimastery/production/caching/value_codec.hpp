#pragma once
/// \file
/// Byte encodings of cached values. A cache stores bytes; an Eigen vector is stored with a 16-byte header
/// so that reading it back as the wrong scalar type, or a truncated or foreign value, is a FormatError
/// instead of garbage:
///
///   bytes 0–3   magic "AIMv"
///   byte  4     scalar code: 'f' float, 'd' double
///   byte  5     scalar size in bytes (4 or 8)
///   bytes 6–7   zero
///   bytes 8–15  element count n, little-endian
///   then        n scalars in the machine's byte order (little-endian on every supported platform)

#include <Eigen/Core>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "aimastery/core/errors.hpp"
#include "aimastery/core/tensor.hpp"

namespace aimastery {

namespace detail {

static_assert(std::endian::native == std::endian::little, "aimastery's cache value encoding assumes little-endian");

template <class T>
constexpr char scalar_code() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "cached vectors are float or double");
  return std::is_same_v<T, float> ? 'f' : 'd';
}

inline constexpr std::size_t vector_header_size = 16;

}  // namespace detail

/// The bytes of a float or double vector (header + coefficients).
template <class Derived>
std::string encode_vector(const Eigen::MatrixBase<Derived>& v) {
  using T = typename Derived::Scalar;
  const Vector<T> values = v.derived().reshaped();
  const auto n = static_cast<std::uint64_t>(values.size());
  std::string out(detail::vector_header_size + values.size() * sizeof(T), '\0');
  out[0] = 'A';
  out[1] = 'I';
  out[2] = 'M';
  out[3] = 'v';
  out[4] = detail::scalar_code<T>();
  out[5] = static_cast<char>(sizeof(T));
  std::memcpy(out.data() + 8, &n, sizeof n);
  if (n) std::memcpy(out.data() + detail::vector_header_size, values.data(), values.size() * sizeof(T));
  return out;
}

/// The vector encoded in `bytes` by encode_vector<T>. Throws FormatError when the bytes are not such a
/// vector: wrong magic, another scalar type, or a length that disagrees with the count.
template <Scalar T>
Vector<T> decode_vector(std::string_view bytes) {
  if (bytes.size() < detail::vector_header_size || bytes.substr(0, 4) != "AIMv")
    throw FormatError("decode_vector: the value is not an encoded vector (" + std::to_string(bytes.size()) +
                      " bytes without the AIMv header)");
  if (bytes[4] != detail::scalar_code<T>() || static_cast<std::size_t>(bytes[5]) != sizeof(T))
    throw FormatError(std::string("decode_vector: the value holds scalars of type '") + bytes[4] + "', expected '" +
                      detail::scalar_code<T>() + "'");
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data() + 8, sizeof n);
  const std::size_t payload = bytes.size() - detail::vector_header_size;
  if (n > payload / sizeof(T) || n * sizeof(T) != payload)
    throw FormatError("decode_vector: the header says " + std::to_string(n) + " elements but " +
                      std::to_string(payload) + " payload bytes follow");
  Vector<T> v(static_cast<Index>(n));
  if (n) std::memcpy(v.data(), bytes.data() + detail::vector_header_size, payload);
  return v;
}

}  // namespace aimastery

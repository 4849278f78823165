#pragma once
/// \file
/// JsonValue: a JSON document (RFC 8259) in memory, read from text and written back, for the library's
/// own files and messages (model files, the model registry, RAG manifests, adapter and model
/// configurations, the serving protocols).
///
/// A value is null, a boolean, a number, a string, an array or an object. Numbers keep the kind they
/// were read or built as, as nlohmann::json keeps them: a signed integer (int64), an unsigned one
/// (uint64; text without '-', fraction or exponent that fits) or a double. An object's members are
/// kept sorted by name, each name once, so that writing it gives the bytes nlohmann::json's dump()
/// gives for the same document:
///
///   compact   {"a":1,"b":[true,null]}            dump()
///   indented  {\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}   dump(2)
///   doubles   the shortest digits that read back to the same double, placed as nlohmann's to_chars does:
///             1234.5  1000000.0  0.001  1e-05  1.5e+16 ; -0.0 ; NaN and infinities as null
///
/// Reading is strict RFC 8259 (json_reader.hpp): well-formed UTF-8 only, no duplicate names, no text
/// after the value, nesting at most `max_depth` deep; a number beyond a double's range is refused.
/// Bad text is a FormatError naming the byte; asking a value for the wrong kind (`get<std::string>()`
/// of a number, `at("x")` of an object without "x") is a JsonShapeError, a FormatError naming what was
/// expected, so that a reader can tell a document of the wrong shape from its own checks.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "aimastery/core/errors.hpp"
#include "aimastery/io/json_fwd.hpp"
#include "aimastery/io/json_reader.hpp"
#include "aimastery/io/json_string.hpp"

namespace aimastery {

/// A document read well but of another shape than asked: a missing member, a value of another kind, an
/// integer out of the asked type's range.
struct JsonShapeError : FormatError {
  using FormatError::FormatError;
};

struct JsonMember;

namespace detail {
/// A container of values, such as std::vector<std::string>: a JSON array.
template <class T>
concept JsonSequence = !std::same_as<T, std::string> && !std::same_as<typename T::value_type, JsonMember> &&
                       requires(T t, typename T::value_type v) {
  t.push_back(v);
  t.begin();
};
/// A container from names to values, such as std::map<std::string, std::string>: a JSON object.
template <class T>
concept JsonMapping = std::same_as<typename T::key_type, std::string> && requires {
  typename T::mapped_type;
};
}  // namespace detail

/// A JSON document, as the file comment says; used as JsonValue (= BasicJsonValue<>, io/json_fwd.hpp).
template <class Unused>
class BasicJsonValue {
 public:
  enum class Kind : unsigned char { null, boolean, integer, unsigned_integer, real, string, array, object };
  using Array = std::vector<BasicJsonValue>;
  using Object = std::vector<JsonMember>;  ///< sorted by name, each name once

  /// Nesting deeper than this is refused by parse() unless the caller asks for more.
  static constexpr int default_max_depth = 256;

  BasicJsonValue() noexcept = default;
  BasicJsonValue(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor): JSON null
  BasicJsonValue(bool b) noexcept : kind_(Kind::boolean) { scalar_.boolean = b; }
  template <std::integral T>
  requires(!std::same_as<T, bool>) BasicJsonValue(T n)
  noexcept {  // NOLINT(google-explicit-constructor)
    if constexpr (std::is_signed_v<T>) {
      kind_ = Kind::integer;
      scalar_.integer = n;
    } else {
      kind_ = Kind::unsigned_integer;
      scalar_.unsigned_integer = n;
    }
  }
  template <std::floating_point T>
  BasicJsonValue(T x) noexcept : kind_(Kind::real) {  // NOLINT(google-explicit-constructor)
    scalar_.real = static_cast<double>(x);
  }
  BasicJsonValue(std::string text);       // NOLINT(google-explicit-constructor)
  BasicJsonValue(std::string_view text);  // NOLINT(google-explicit-constructor)
  BasicJsonValue(const char* text);       // NOLINT(google-explicit-constructor)
  /// An array of the container's values (each a JsonValue).
  template <detail::JsonSequence Sequence>
  BasicJsonValue(const Sequence& values);  // NOLINT(google-explicit-constructor)
  /// An object of the mapping's names and values.
  template <detail::JsonMapping Mapping>
  BasicJsonValue(const Mapping& values);  // NOLINT(google-explicit-constructor)

  /// An array of the given elements: JsonValue::array({1, "two", nullptr}).
  static BasicJsonValue array(std::initializer_list<BasicJsonValue> elements = {});
  static BasicJsonValue array(Array elements);
  /// An empty object, {}.
  static BasicJsonValue object() { return object_of_sorted({}); }
  /// An object of the given members: JsonValue::object({{"name", "x"}, {"size", 3}}); a name given
  /// twice is InvalidArgument.
  static BasicJsonValue object(std::initializer_list<JsonMember> members);
  static BasicJsonValue object(Object members);

  BasicJsonValue(const BasicJsonValue& other);
  /// Moving leaves `other` null.
  BasicJsonValue(BasicJsonValue&& other) noexcept
      : kind_(std::exchange(other.kind_, Kind::null)),
        scalar_(other.scalar_),
        composite_(std::move(other.composite_)) {}
  BasicJsonValue& operator=(const BasicJsonValue& other);
  BasicJsonValue& operator=(BasicJsonValue&& other) noexcept;
  ~BasicJsonValue();

  /// The document in `text`; bad text is FormatError("<context> (byte k: problem)").
  static BasicJsonValue parse(std::string_view text, std::string context = "JSON", int max_depth = default_max_depth);

  /// The text of the value, compact (indent < 0) or with members and elements on their own lines,
  /// indented by `indent` spaces per level; a string that is not UTF-8 is InvalidArgument.
  [[nodiscard]] std::string dump(int indent = -1) const;

  // ---- kind -------------------------------------------------------------------------------------
  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] bool is_null() const noexcept { return kind_ == Kind::null; }
  [[nodiscard]] bool is_boolean() const noexcept { return kind_ == Kind::boolean; }
  [[nodiscard]] bool is_number() const noexcept { return is_number_integer() || kind_ == Kind::real; }
  /// A signed or an unsigned integer (not a double, even one with an integral value).
  [[nodiscard]] bool is_number_integer() const noexcept {
    return kind_ == Kind::integer || kind_ == Kind::unsigned_integer;
  }
  [[nodiscard]] bool is_number_unsigned() const noexcept { return kind_ == Kind::unsigned_integer; }
  [[nodiscard]] bool is_number_float() const noexcept { return kind_ == Kind::real; }
  [[nodiscard]] bool is_string() const noexcept { return kind_ == Kind::string; }
  [[nodiscard]] bool is_array() const noexcept { return kind_ == Kind::array; }
  [[nodiscard]] bool is_object() const noexcept { return kind_ == Kind::object; }
  /// "null", "boolean", "number", "string", "array" or "object", for messages.
  [[nodiscard]] std::string_view type_name() const noexcept;

  // ---- scalars ----------------------------------------------------------------------------------
  /// The value as T: bool from a boolean; an integer type from an integer that T holds exactly;
  /// float or double from any number; std::string from a string; a sequence (std::vector<U>) from an
  /// array and a mapping (std::map<std::string, U>) from an object, each value as U. Anything else is a
  /// JsonShapeError.
  template <class T>
  [[nodiscard]] T get() const;
  /// The string itself; FormatError unless this is a string.
  [[nodiscard]] const std::string& as_string() const;

  // ---- arrays -----------------------------------------------------------------------------------
  /// The elements; FormatError unless this is an array.
  [[nodiscard]] const Array& elements() const;
  /// The k-th element; FormatError unless this is an array of more than k elements.
  [[nodiscard]] const BasicJsonValue& at(std::size_t k) const;
  /// Appends an element; a null becomes an empty array first, other kinds are InvalidArgument.
  void push_back(BasicJsonValue element);

  // ---- objects ----------------------------------------------------------------------------------
  /// The members, sorted by name; FormatError unless this is an object.
  [[nodiscard]] const Object& members() const;
  /// Whether this is an object with a member `name`.
  [[nodiscard]] bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }
  /// The member's value, or nullptr when this is not an object or has no member `name`.
  [[nodiscard]] const BasicJsonValue* find(std::string_view name) const noexcept;
  /// The member's value; FormatError when this is not an object or has no member `name`.
  [[nodiscard]] const BasicJsonValue& at(std::string_view name) const;
  /// The member's value as T, or `fallback` when there is no member `name` (or it is null).
  template <class T>
  [[nodiscard]] T value(std::string_view name, T fallback) const;
  /// The member's value, a null one added when missing; a null becomes an empty object first, other
  /// kinds are InvalidArgument.
  BasicJsonValue& operator[](std::string_view name);
  /// Removes the member `name`; returns how many were removed (0 or 1).
  std::size_t erase(std::string_view name) noexcept;

  /// The number of elements or members; 0 for null, 1 for a scalar (as nlohmann::json).
  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }

  /// The same document: equal kinds and contents, numbers compared by value (1 == 1u == 1.0).
  friend bool operator==(const BasicJsonValue& a, const BasicJsonValue& b) noexcept { return equal(a, b); }

 private:
  struct Composite;  // the string, elements or members; present for those kinds only

  /// "null", "a number", "an array", ..., for messages.
  [[nodiscard]] std::string described() const;
  [[noreturn]] void wrong_kind(std::string_view expected) const;
  static bool equal(const BasicJsonValue& a, const BasicJsonValue& b) noexcept;
  /// The first member whose name is not less than `name` (this is an object).
  [[nodiscard]] Object::const_iterator lower_bound(std::string_view name) const noexcept;
  Composite& composite_for(Kind kind, std::string_view operation);
  void write(std::string& out, int indent, int level) const;
  static BasicJsonValue read(detail::JsonReader& in, int depth_left);
  /// Sorts members by name (stably); the first member whose name repeats, or nullptr.
  static const JsonMember* sort_by_name(Object& members);
  /// An object of members already sorted, each name once.
  static BasicJsonValue object_of_sorted(Object members);

  Kind kind_ = Kind::null;
  union {
    bool boolean;
    std::int64_t integer;
    std::uint64_t unsigned_integer;
    double real;
  } scalar_{};
  std::unique_ptr<Composite> composite_;
};

/// A member of a JSON object: a name and its value.
struct JsonMember {
  std::string name;
  JsonValue value;
};

template <class Unused>
struct BasicJsonValue<Unused>::Composite {
  std::string text;
  Array elements;
  Object members;
};

namespace detail {

/// Appends a double as nlohmann::json's dump() writes it (see json.hpp's header comment): the shortest
/// digits d1 d2 ... dk that read back to x, with the decimal point after n of them (x = 0.d1...dk × 10^n),
/// written as "d1...dk[000].0" when k <= n <= 15, "d1..dn.dn+1..dk" when 0 < n <= 15,
/// "0.[000]d1...dk" when -4 < n <= 0, and "d1[.d2...dk]e±XX" otherwise.
template <class = void>
void append_json_double(std::string& out, double x) {
  if (!std::isfinite(x)) {
    out += "null";
    return;
  }
  if (std::signbit(x)) {
    out += '-';
    x = -x;
  }
  if (x == 0) {
    out += "0.0";
    return;
  }
  // to_chars in scientific form gives the shortest round-trip digits: "d[.ddd]e±XX".
  char scientific[32];
  const auto written = std::to_chars(scientific, scientific + sizeof scientific, x, std::chars_format::scientific);
  const std::string_view text(scientific, static_cast<std::size_t>(written.ptr - scientific));
  const std::size_t e = text.find('e');
  std::string digits;
  for (const char c : text.substr(0, e))
    if (c != '.') digits += c;
  int exponent = 0;
  const std::string_view exponent_text = text.substr(e + 1);
  std::from_chars(exponent_text.data() + (exponent_text.front() == '+' ? 1 : 0),
                  exponent_text.data() + exponent_text.size(), exponent);
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  constexpr int min_exponent = -4;
  constexpr int max_exponent = std::numeric_limits<double>::digits10;
  if (k <= n && n <= max_exponent) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
    out += ".0";
  } else if (0 < n && n <= max_exponent) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out += '.';
    out.append(digits, static_cast<std::size_t>(n));
  } else if (min_exponent < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    const int shown = n - 1;
    out += shown < 0 ? "e-" : "e+";
    const int magnitude = shown < 0 ? -shown : shown;
    if (magnitude < 10) out += '0';
    out += std::to_string(magnitude);
  }
}

/// The double a JSON number's text stands for; FormatError (through `in`) beyond a double's range.
/// Text below the smallest subnormal reads as a zero of its sign, as strtod gives.
template <class = void>
double json_number_to_double(std::string_view text, const JsonReader& in) {
  double x = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (error == std::errc()) return x;
  // Out of range: the magnitude's decimal exponent decides between overflow and underflow.
  const bool negative = !text.empty() && text.front() == '-';
  const std::string_view unsigned_text = text.substr(negative ? 1 : 0);
  const std::size_t exponent_at = unsigned_text.find_first_of("eE");
  const std::string_view mantissa = unsigned_text.substr(0, exponent_at);
  long long decimal_exponent = 0;
  if (exponent_at != std::string_view::npos) {
    std::string_view e = unsigned_text.substr(exponent_at + 1);
    const bool e_negative = e.front() == '-';
    if (e.front() == '+' || e_negative) e.remove_prefix(1);
    long long magnitude = 0;
    for (const char c : e) magnitude = std::min(magnitude * 10 + (c - '0'), 1'000'000'000'000LL);
    decimal_exponent = e_negative ? -magnitude : magnitude;
  }
  const std::size_t point = mantissa.find('.');
  const std::string_view integer_part = mantissa.substr(0, point);
  long long leading = 0;  // position of the first non-zero digit relative to the point
  if (integer_part != "0") {
    leading = static_cast<long long>(integer_part.size());
  } else {
    const std::string_view fraction = point == std::string_view::npos ? "" : mantissa.substr(point + 1);
    const std::size_t first = fraction.find_first_not_of('0');
    leading = first == std::string_view::npos ? 0 : -static_cast<long long>(first);
  }
  if (leading + decimal_exponent > 0)
    in.syntax_error("the number " + std::string(text) + " is beyond a double's range");
  return negative ? -0.0 : 0.0;
}

}  // namespace detail

// ---- construction ---------------------------------------------------------------------------------

template <class Unused>
BasicJsonValue<Unused>::BasicJsonValue(std::string text)
    : kind_(Kind::string), composite_(std::make_unique<Composite>()) {
  composite_->text = std::move(text);
}
template <class Unused>
BasicJsonValue<Unused>::BasicJsonValue(std::string_view text) : BasicJsonValue(std::string(text)) {}
template <class Unused>
BasicJsonValue<Unused>::BasicJsonValue(const char* text) : BasicJsonValue(std::string(text)) {}

template <class Unused>
template <detail::JsonSequence Sequence>
BasicJsonValue<Unused>::BasicJsonValue(const Sequence& values)
    : kind_(Kind::array), composite_(std::make_unique<Composite>()) {
  for (const auto& value : values) composite_->elements.emplace_back(value);
}

template <class Unused>
template <detail::JsonMapping Mapping>
BasicJsonValue<Unused>::BasicJsonValue(const Mapping& values) {
  Object members;
  for (const auto& [name, value] : values) members.push_back({name, BasicJsonValue(value)});
  *this = object(std::move(members));
}

template <class Unused>
BasicJsonValue<Unused> BasicJsonValue<Unused>::array(std::initializer_list<BasicJsonValue> elements) {
  return array(Array(elements));
}

template <class Unused>
BasicJsonValue<Unused> BasicJsonValue<Unused>::array(Array elements) {
  BasicJsonValue out;
  out.kind_ = Kind::array;
  out.composite_ = std::make_unique<Composite>();
  out.composite_->elements = std::move(elements);
  return out;
}

template <class Unused>
BasicJsonValue<Unused> BasicJsonValue<Unused>::object(std::initializer_list<JsonMember> members) {
  return object(Object(members));
}

template <class Unused>
BasicJsonValue<Unused> BasicJsonValue<Unused>::object(Object members) {
  if (const JsonMember* twin = sort_by_name(members))
    throw InvalidArgument("JsonValue::object: the name \"" + twin->name + "\" is given twice");
  return object_of_sorted(std::move(members));
}

template <class Unused>
const JsonMember* BasicJsonValue<Unused>::sort_by_name(Object& members) {
  std::stable_sort(members.begin(), members.end(),
                   [](const JsonMember& a, const JsonMember& b) { return a.name < b.name; });
  const auto twin = std::adjacent_find(members.begin(), members.end(),
                                       [](const JsonMember& a, const JsonMember& b) { return a.name == b.name; });
  return twin == members.end() ? nullptr : &*twin;
}

template <class Unused>
BasicJsonValue<Unused> BasicJsonValue<Unused>::object_of_sorted(Object members) {
  BasicJsonValue out;
  out.kind_ = Kind::object;
  out.composite_ = std::make_unique<Composite>();
  out.composite_->members = std::move(members);
  return out;
}

template <class Unused>
BasicJsonValue<Unused>::BasicJsonValue(const BasicJsonValue& other)
    : kind_(other.kind_),
      scalar_(other.scalar_),
      composite_(other.composite_ ? std::make_unique<Composite>(*other.composite_) : nullptr) {}

template <class Unused>
BasicJsonValue<Unused>& BasicJsonValue<Unused>::operator=(const BasicJsonValue& other) {
  if (this != &other) *this = BasicJsonValue(other);  // copy aside, then a move that cannot throw
  return *this;
}

template <class Unused>
BasicJsonValue<Unused>& BasicJsonValue<Unused>::operator=(BasicJsonValue&& other) noexcept {
  if (this != &other) {
    kind_ = std::exchange(other.kind_, Kind::null);
    scalar_ = other.scalar_;
    composite_ = std::move(other.composite_);
  }
  return *this;
}

template <class Unused>
BasicJsonValue<Unused>::~BasicJsonValue() = default;

// ---- kinds and scalars ----------------------------------------------------------------------------

template <class Unused>
std::string_view BasicJsonValue<Unused>::type_name() const noexcept {
  switch (kind_) {
    case Kind::null:
      return "null";
    case Kind::boolean:
      return "boolean";
    case Kind::string:
      return "string";
    case Kind::array:
      return "array";
    case Kind::object:
      return "object";
    default:
      return "number";
  }
}

template <class Unused>
std::string BasicJsonValue<Unused>::described() const {
  const std::string_view article = kind_ == Kind::null                             ? ""
                                   : kind_ == Kind::array || kind_ == Kind::object ? "an "
                                                                                   : "a ";
  return std::string(article) + std::string(type_name());
}

template <class Unused>
void BasicJsonValue<Unused>::wrong_kind(std::string_view expected) const {
  throw JsonShapeError("JSON: expected " + std::string(expected) + ", found " + described());
}

template <class Unused>
template <class T>
T BasicJsonValue<Unused>::get() const {
  if constexpr (std::same_as<T, bool>) {
    if (kind_ != Kind::boolean) wrong_kind("a boolean");
    return scalar_.boolean;
  } else if constexpr (std::integral<T>) {
    // An integer that T holds exactly; a double (even 3.0) is not an integer.
    if (kind_ == Kind::integer) {
      if (std::in_range<T>(scalar_.integer)) return static_cast<T>(scalar_.integer);
      throw JsonShapeError("JSON: the integer " + std::to_string(scalar_.integer) + " is out of range here");
    }
    if (kind_ == Kind::unsigned_integer) {
      if (std::in_range<T>(scalar_.unsigned_integer)) return static_cast<T>(scalar_.unsigned_integer);
      throw JsonShapeError("JSON: the integer " + std::to_string(scalar_.unsigned_integer) + " is out of range here");
    }
    wrong_kind("an integer");
  } else if constexpr (std::floating_point<T>) {
    switch (kind_) {
      case Kind::integer:
        return static_cast<T>(scalar_.integer);
      case Kind::unsigned_integer:
        return static_cast<T>(scalar_.unsigned_integer);
      case Kind::real:
        return static_cast<T>(scalar_.real);
      default:
        wrong_kind("a number");
    }
  } else if constexpr (std::same_as<T, std::string>) {
    return as_string();
  } else if constexpr (detail::JsonMapping<T>) {
    T out;
    for (const auto& [name, value] : members()) out.emplace(name, value.template get<typename T::mapped_type>());
    return out;
  } else {
    static_assert(detail::JsonSequence<T>,
                  "JsonValue::get<T>: T is bool, arithmetic, std::string, a sequence or a mapping");
    T out;
    for (const BasicJsonValue& value : elements()) out.push_back(value.template get<typename T::value_type>());
    return out;
  }
}

template <class Unused>
const std::string& BasicJsonValue<Unused>::as_string() const {
  if (kind_ != Kind::string) wrong_kind("a string");
  return composite_->text;
}

// ---- arrays ---------------------------------------------------------------------------------------

template <class Unused>
const typename BasicJsonValue<Unused>::Array& BasicJsonValue<Unused>::elements() const {
  if (kind_ != Kind::array) wrong_kind("an array");
  return composite_->elements;
}

template <class Unused>
const BasicJsonValue<Unused>& BasicJsonValue<Unused>::at(std::size_t k) const {
  const Array& all = elements();
  if (k >= all.size())
    throw JsonShapeError("JSON: element " + std::to_string(k) + " of an array of " + std::to_string(all.size()));
  return all[k];
}

template <class Unused>
typename BasicJsonValue<Unused>::Composite& BasicJsonValue<Unused>::composite_for(Kind kind,
                                                                                  std::string_view operation) {
  if (kind_ == Kind::null) {
    composite_ = std::make_unique<Composite>();
    kind_ = kind;
  }
  if (kind_ != kind) throw InvalidArgument("JsonValue::" + std::string(operation) + ": the value is " + described());
  return *composite_;
}

template <class Unused>
void BasicJsonValue<Unused>::push_back(BasicJsonValue element) {
  composite_for(Kind::array, "push_back").elements.push_back(std::move(element));
}

// ---- objects --------------------------------------------------------------------------------------

template <class Unused>
const typename BasicJsonValue<Unused>::Object& BasicJsonValue<Unused>::members() const {
  if (kind_ != Kind::object) wrong_kind("an object");
  return composite_->members;
}

template <class Unused>
typename BasicJsonValue<Unused>::Object::const_iterator BasicJsonValue<Unused>::lower_bound(
    std::string_view name) const noexcept {
  const Object& all = composite_->members;
  return std::lower_bound(all.begin(), all.end(), name,
                          [](const JsonMember& m, std::string_view key) { return std::string_view(m.name) < key; });
}

template <class Unused>
const BasicJsonValue<Unused>* BasicJsonValue<Unused>::find(std::string_view name) const noexcept {
  if (kind_ != Kind::object) return nullptr;
  const auto it = lower_bound(name);
  return it != composite_->members.end() && it->name == name ? &it->value : nullptr;
}

template <class Unused>
const BasicJsonValue<Unused>& BasicJsonValue<Unused>::at(std::string_view name) const {
  if (kind_ != Kind::object) wrong_kind("an object");
  const BasicJsonValue* found = find(name);
  if (found == nullptr) throw JsonShapeError("JSON: no member \"" + std::string(name) + "\"");
  return *found;
}

template <class Unused>
template <class T>
T BasicJsonValue<Unused>::value(std::string_view name, T fallback) const {
  const BasicJsonValue* found = find(name);
  return found == nullptr || found->is_null() ? fallback : found->get<T>();
}

template <class Unused>
BasicJsonValue<Unused>& BasicJsonValue<Unused>::operator[](std::string_view name) {
  Object& all = composite_for(Kind::object, "operator[]").members;
  auto it = all.begin() + (lower_bound(name) - all.cbegin());
  if (it == all.end() || it->name != name) it = all.insert(it, JsonMember{std::string(name), BasicJsonValue()});
  return it->value;
}

template <class Unused>
std::size_t BasicJsonValue<Unused>::erase(std::string_view name) noexcept {
  if (kind_ != Kind::object) return 0;
  const auto it = lower_bound(name);
  if (it == composite_->members.end() || it->name != name) return 0;
  composite_->members.erase(it);
  return 1;
}

template <class Unused>
std::size_t BasicJsonValue<Unused>::size() const noexcept {
  switch (kind_) {
    case Kind::null:
      return 0;
    case Kind::array:
      return composite_->elements.size();
    case Kind::object:
      return composite_->members.size();
    default:
      return 1;
  }
}

template <class Unused>
bool BasicJsonValue<Unused>::equal(const BasicJsonValue& a, const BasicJsonValue& b) noexcept {
  using Kind = BasicJsonValue::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.kind_ == Kind::real || b.kind_ == Kind::real) return a.get<double>() == b.get<double>();
    if (a.kind_ == b.kind_) return a.scalar_.integer == b.scalar_.integer;  // same bits, same kind
    const BasicJsonValue& s = a.kind_ == Kind::integer ? a : b;
    const BasicJsonValue& u = a.kind_ == Kind::integer ? b : a;
    return s.scalar_.integer >= 0 && static_cast<std::uint64_t>(s.scalar_.integer) == u.scalar_.unsigned_integer;
  }
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case Kind::null:
      return true;
    case Kind::boolean:
      return a.scalar_.boolean == b.scalar_.boolean;
    case Kind::string:
      return a.composite_->text == b.composite_->text;
    case Kind::array:
      return a.composite_->elements == b.composite_->elements;
    case Kind::object:
      return std::equal(a.composite_->members.begin(), a.composite_->members.end(), b.composite_->members.begin(),
                        b.composite_->members.end(), [](const JsonMember& x, const JsonMember& y) {
                          return x.name == y.name && x.value == y.value;
                        });
    default:
      return false;
  }
}

// ---- text -----------------------------------------------------------------------------------------

template <class Unused>
BasicJsonValue<Unused> BasicJsonValue<Unused>::parse(std::string_view text, std::string context, int max_depth) {
  detail::JsonReader in(text, std::move(context));
  BasicJsonValue out = read(in, max_depth);
  in.expect_end();
  return out;
}

template <class Unused>
BasicJsonValue<Unused> BasicJsonValue<Unused>::read(detail::JsonReader& in, int depth_left) {
  using Reader = detail::JsonReader;
  const Reader::Kind kind = in.peek();
  if ((kind == Reader::Kind::object || kind == Reader::Kind::array) && depth_left <= 0)
    in.syntax_error("nesting deeper than the limit");
  switch (kind) {
    case Reader::Kind::object: {
      // Members in the order read, then sorted once: a name given twice is refused.
      Object members;
      in.read_object([&](const std::string& name) { members.push_back({name, read(in, depth_left - 1)}); });
      if (const JsonMember* twin = sort_by_name(members))
        in.syntax_error("the name \"" + twin->name + "\" appears twice in an object");
      return object_of_sorted(std::move(members));
    }
    case Reader::Kind::array: {
      Array elements;
      in.read_array([&](std::size_t) { elements.push_back(read(in, depth_left - 1)); });
      return array(std::move(elements));
    }
    case Reader::Kind::string:
      return BasicJsonValue(in.read_string());
    case Reader::Kind::literal: {
      const std::optional<bool> literal = in.read_literal();
      return literal ? BasicJsonValue(*literal) : BasicJsonValue();
    }
    case Reader::Kind::number: {
      const Reader::Number number = in.read_number();
      if (number.value) return BasicJsonValue(*number.value);
      // A negative integer that int64 holds stays an integer; anything else is a double.
      const std::string_view text = number.text;
      if (text.find_first_of(".eE") == std::string_view::npos) {
        std::int64_t n = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (error == std::errc() && end == text.data() + text.size()) return BasicJsonValue(n);
      }
      return BasicJsonValue(detail::json_number_to_double(text, in));
    }
  }
  return BasicJsonValue();
}

template <class Unused>
std::string BasicJsonValue<Unused>::dump(int indent) const {
  std::string out;
  write(out, indent, 0);
  return out;
}

template <class Unused>
void BasicJsonValue<Unused>::write(std::string& out, int indent, int level) const {
  const auto new_line = [&](int depth) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<std::size_t>(indent) * static_cast<std::size_t>(depth), ' ');
  };
  char digits[24];
  switch (kind_) {
    case Kind::null:
      out += "null";
      return;
    case Kind::boolean:
      out += scalar_.boolean ? "true" : "false";
      return;
    case Kind::integer:
      out.append(digits, std::to_chars(digits, digits + sizeof digits, scalar_.integer).ptr);
      return;
    case Kind::unsigned_integer:
      out.append(digits, std::to_chars(digits, digits + sizeof digits, scalar_.unsigned_integer).ptr);
      return;
    case Kind::real:
      detail::append_json_double(out, scalar_.real);
      return;
    case Kind::string:
      if (!detail::append_json_string(out, composite_->text))
        throw InvalidArgument("JsonValue::dump: a string is not valid UTF-8");
      return;
    case Kind::array: {
      const Array& all = composite_->elements;
      if (all.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (std::size_t k = 0; k < all.size(); ++k) {
        if (k > 0) out += ',';
        new_line(level + 1);
        all[k].write(out, indent, level + 1);
      }
      new_line(level);
      out += ']';
      return;
    }
    case Kind::object: {
      const Object& all = composite_->members;
      if (all.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (std::size_t k = 0; k < all.size(); ++k) {
        if (k > 0) out += ',';
        new_line(level + 1);
        if (!detail::append_json_string(out, all[k].name))
          throw InvalidArgument("JsonValue::dump: a member name is not valid UTF-8");
        out += indent < 0 ? ":" : ": ";
        all[k].value.write(out, indent, level + 1);
      }
      new_line(level);
      out += '}';
      return;
    }
  }
}

}  // namespace aimastery

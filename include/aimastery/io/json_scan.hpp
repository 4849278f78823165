#pragma once
/// \file
/// Walking a JSON value at a JsonReader (json_reader.hpp) without building it, for readers of a fixed
/// shape that take some members and must still check the rest as JsonValue::parse would (the serving
/// protocols): skip a value, read an object's members with each name once, or build a JsonValue of a
/// small member alone.

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "aimastery/io/json.hpp"
#include "aimastery/io/json_reader.hpp"

namespace aimastery::detail {

/// Calls member(name) for each member of the object at `in`, a name given twice being a syntax error at
/// its second occurrence. The names seen are kept in a search tree: O(log n) a member, so an object of
/// many members costs O(n log n), not the O(n²) of a list searched for each.
template <class Member>
void read_unique_members(JsonReader& in, Member&& member) {
  std::set<std::string, std::less<>> names;
  in.read_object([&](const std::string& name) {
    if (!names.insert(name).second) in.syntax_error("the name \"" + name + "\" appears twice in an object");
    member(name);
  });
}

/// Reads the value at `in` and keeps nothing of it: the grammar, the nesting limit, unique names in
/// objects and numbers within a double's range are checked as JsonValue::parse checks them.
template <class = void>
void skip_json_value(JsonReader& in, int depth_left) {
  switch (in.peek()) {
    case JsonReader::Kind::object: {
      if (depth_left <= 0) in.syntax_error("nesting deeper than the limit");
      read_unique_members(in, [&](const std::string&) { skip_json_value(in, depth_left - 1); });
      return;
    }
    case JsonReader::Kind::array:
      if (depth_left <= 0) in.syntax_error("nesting deeper than the limit");
      in.read_array([&](std::size_t) { skip_json_value(in, depth_left - 1); });
      return;
    case JsonReader::Kind::string:
      (void)in.read_string();
      return;
    case JsonReader::Kind::number:
      if (const JsonReader::Number n = in.read_number(); !n.value) (void)json_number_to_double(n.text, in);
      return;
    case JsonReader::Kind::literal:
      (void)in.read_literal();
      return;
  }
}

/// The value at `in` as a JsonValue (a small one: "shape", "parameters"), its text checked by skip_json_value.
template <class = void>
JsonValue read_small_json(JsonReader& in, std::string_view text, int depth_left) {
  (void)in.peek();
  const std::size_t begin = in.position();
  skip_json_value(in, depth_left);
  return JsonValue::parse(text.substr(begin, in.position() - begin), "JSON", depth_left);
}

}  // namespace aimastery::detail

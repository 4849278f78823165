#pragma once
/// \file
/// Document and Chunk: the text a RAG index is built from, with identities that survive re-indexing.
///
///   Document doc = Document::from_source("notes/intro.md", text, {{"author", "Ada"}});
///   doc.id   // "d-3f1c...": a 64-bit FNV-1a hash of (source, 0, text.size()) in hex
///
/// An id is derived from where the text came from, never from a random number or a counter: the same
/// file indexed twice (or on another machine) gets the same id, so citations stored by a user keep
/// pointing at the same passage. A document cut out of a larger source (a page of a PDF, a section of a
/// file) passes its byte offsets in that source, and gets an id of its own.
///
/// Offsets in this module are byte offsets into the UTF-8 text (so `text.substr(start, end - start)` is
/// the passage); sizes that a user chooses (chunk sizes) are counted in code points, words or tokens.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "aimastery/core/tensor.hpp"

namespace aimastery {

/// Free-form string metadata of a document or chunk ("author", "page", "heading", ...).
using Metadata = std::map<std::string, std::string>;

namespace detail::rag {

/// 64-bit FNV-1a over the bytes of `s`, continuing from `h`: a stable, portable hash (no seed).
inline std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ull) noexcept {
  for (const char ch : s) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ull;
  return h;
}

inline std::string hex64(std::uint64_t h) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<std::size_t>(i)] = digits[h & 0xF];
  return out;
}

}  // namespace detail::rag

/// The id of the passage [start, end) of `source`: "d-" + hex(FNV-1a(source, '\0', start, '-', end)).
/// The same arguments give the same id on every platform and in every run.
inline std::string make_document_id(std::string_view source, std::size_t start, std::size_t end) {
  require(start <= end, "make_document_id",
          [&] { return "start " + std::to_string(start) + " is after end " + std::to_string(end); });
  std::uint64_t h = detail::rag::fnv1a(source);
  h = detail::rag::fnv1a(std::string_view("\0", 1), h);
  h = detail::rag::fnv1a(std::to_string(start) + "-" + std::to_string(end), h);
  return "d-" + detail::rag::hex64(h);
}

/// A document: its text, where it came from, and its metadata.
struct Document {
  std::string id;      ///< stable id (make_document_id), unique within an index
  std::string text;    ///< UTF-8
  std::string source;  ///< a path, a URL, or any name the user gives
  Metadata metadata;

  /// A whole source: id = make_document_id(source, 0, text.size()).
  static Document from_source(std::string source, std::string text, Metadata metadata = {}) {
    return from_passage(std::move(source), std::move(text), 0, std::move(metadata));
  }

  /// A passage of a larger source starting at byte `start` of that source (a page, a section): id =
  /// make_document_id(source, start, start + text.size()); "source_start" is recorded in the metadata.
  static Document from_passage(std::string source, std::string text, std::size_t start, Metadata metadata = {}) {
    Document d;
    d.id = make_document_id(source, start, start + text.size());
    if (start != 0) metadata["source_start"] = std::to_string(start);
    d.text = std::move(text);
    d.source = std::move(source);
    d.metadata = std::move(metadata);
    return d;
  }
};

/// A chunk of a document: the exact passage text.substr(start, end - start) and where it lies.
struct Chunk {
  std::string document_id;
  std::size_t start = 0;  ///< byte offset of the first byte in the document's text
  std::size_t end = 0;    ///< one past the last byte
  std::string text;       ///< == document.text.substr(start, end - start)
  std::string heading;    ///< the Markdown heading path ("Intro > Setup") when chunked by headings, else empty
  Metadata metadata;      ///< the document's metadata

  /// The chunk's own id: the document id and the offsets ("d-…#120-480"), as stable as the document's.
  [[nodiscard]] std::string id() const { return document_id + "#" + std::to_string(start) + "-" + std::to_string(end); }
};

}  // namespace aimastery

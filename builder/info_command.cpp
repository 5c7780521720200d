// nftlens info / verify: what a bundle holds and costs; whether its files match the manifest.
#include <filesystem>
#include <iomanip>
#include <map>
#include <memory>
#include <sstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bundle_io.h"
#include "commands.h"
#include "distance.h"
#include "error.h"
#include "native_lens.h"

namespace fs = std::filesystem;

namespace nftlens {

namespace {
// What the verdict model says (shared/verdict.h), in one line; `global` for a collection's model.
std::string verdict_line(const VerdictModel& v, const VerdictModel* global = nullptr) {
  if (!v.fitted_aligned && !v.fitted_plain) return "not calibrated (built before verdicts: token above the threshold, else none)";
  const bool own_weights = !global || v.aligned != global->aligned || v.plain != global->plain;
  std::ostringstream o;
  o << "\"token\" from confidence " << std::setprecision(3) << v.token_confidence;
  if (v.plain_token_confidence >= 0) o << " (" << v.plain_token_confidence << " not re-ranked)";
  o << ", \"none\" below cosine "
    << v.collection_threshold << "; " << (own_weights ? "fitted" : "global weights, operating points") << " on " << v.positives << " positive and "
    << v.negatives << " negative examples" << (v.fitted_aligned ? "" : " (first-stage evidence only: no thumbnails)");
  return o.str();
}
}  // namespace

int run_info(const std::string& dir, bool as_json) {
  Bundle b = load_bundle_dir(dir);
  load_directory_file(b, dir);  // (table version 5: where the fragments are)
  const double n = double(std::max<uint64_t>(1, b.manifest.tokens));
  const uint64_t manifest_bytes = fs::file_size(fs::path(dir) / "manifest.json");
  // Files loaded when the bundle opens (the manifest's eager roles) count as "always"; thumbnail
  // packs, stats, part codes (fetched by the first query that looks like a part), shards and
  // fragments only in the total. Packs and stats are summed per role.
  uint64_t total_no_model = manifest_bytes, always_no_model = manifest_bytes;
  nlohmann::json files = nlohmann::json::array();
  files.push_back({{"role", "manifest"}, {"name", "manifest.json"}, {"bytes", manifest_bytes}, {"bytes_per_token", manifest_bytes / n}});
  std::map<std::string, std::pair<size_t, uint64_t>> grouped;  // role -> (files, bytes)
  for (auto& f : b.manifest.files) {
    if (f.role != "model") total_no_model += f.bytes;
    if (f.role == "thumbs" || f.role == "stats") {  // (many files of a role: one line)
      grouped[f.role].first++;
      grouped[f.role].second += f.bytes;
      continue;
    }
    files.push_back({{"role", f.role}, {"name", f.name}, {"bytes", f.bytes}, {"bytes_per_token", f.bytes / n}});
    if (f.role != "model" && Manifest::loaded_at_open(f.role)) always_no_model += f.bytes;
  }
  for (auto& [role, fb] : grouped)
    files.push_back({{"role", role}, {"name", std::to_string(fb.first) + (role == "thumbs" ? " x thumbs.*.bin" : " x stats-*.json")},
                     {"bytes", fb.second}, {"bytes_per_token", fb.second / n}});
  nlohmann::json layout = nullptr, words_layout = nullptr;
  if (b.partitioned()) {  // shards and fragments, summed per kind (fetched per query, not at load)
    uint64_t shard_bytes = 0, fragment_bytes = 0, largest = 0;
    for (auto& s : b.layout.shards) { shard_bytes += s.bytes; largest = std::max(largest, s.bytes); }
    for (auto& f : b.layout.fragments) fragment_bytes += f.bytes;
    const size_t shard_files = b.layout.shard_files().size(), fragment_files = b.layout.fragment_files().size();
    files.push_back({{"role", "shards"}, {"name", std::to_string(shard_files) + (b.layout.grouped() ? " x shards.*.bin" : " x shard.*.bin")}, {"bytes", shard_bytes}, {"bytes_per_token", shard_bytes / n}});
    files.push_back({{"role", "fragments"}, {"name", std::to_string(fragment_files) + " x tokens.*.bin"}, {"bytes", fragment_bytes}, {"bytes_per_token", fragment_bytes / n}});
    total_no_model += shard_bytes + fragment_bytes;
    if (b.layout.has_directory()) {  // (table version 5: fetched by text calls, not at open)
      files.push_back({{"role", "directory"}, {"name", b.layout.directory.name("directory")}, {"bytes", b.layout.directory.bytes}, {"bytes_per_token", b.layout.directory.bytes / n}});
      total_no_model += b.layout.directory.bytes;
    }
    if (!b.layout.packs.empty()) {  // (table version 5 lists the packs; the manifest, before)
      uint64_t pack_bytes = 0;
      for (auto& p : b.layout.packs) pack_bytes += p.bytes;
      files.push_back({{"role", "thumbs"}, {"name", std::to_string(b.layout.packs.size()) + " x thumbs.*.bin"}, {"bytes", pack_bytes}, {"bytes_per_token", pack_bytes / n}});
      total_no_model += pack_bytes;
    }
    if (b.layout.has_words()) {  // the word index: lexicon (first text call) and chunks (per query)
      uint64_t word_bytes = 0, largest_chunk = 0;
      for (auto& w : b.layout.words) { word_bytes += w.bytes; largest_chunk = std::max(largest_chunk, w.bytes); }
      files.push_back({{"role", "lexicon"}, {"name", b.layout.lexicon.name("lexicon")}, {"bytes", b.layout.lexicon.bytes}, {"bytes_per_token", b.layout.lexicon.bytes / n}});
      files.push_back({{"role", "words"}, {"name", std::to_string(b.layout.words.size()) + " x words.*.bin"}, {"bytes", word_bytes}, {"bytes_per_token", word_bytes / n}});
      total_no_model += b.layout.lexicon.bytes + word_bytes;
      words_layout = {{"lexicon_bytes", b.layout.lexicon.bytes}, {"word_chunks", b.layout.words.size()},
                      {"mean_word_chunk_bytes", word_bytes / std::max<size_t>(1, b.layout.words.size())}, {"largest_word_chunk_bytes", largest_chunk}};
    }
    layout = {{"partitions", b.layout.partitions()}, {"default_probe", b.layout.default_probe}, {"fragment_tokens", b.layout.fragment_tokens},
              {"fragments", b.layout.fragments.size()}, {"shard_files", shard_files}, {"fragment_files", fragment_files}, {"largest_shard_bytes", largest},
              {"mean_shard_bytes", shard_bytes / std::max<size_t>(1, b.layout.partitions())},
              {"mean_fragment_bytes", fragment_bytes / std::max<size_t>(1, b.layout.fragments.size())}};
    if (!words_layout.is_null()) layout.update(words_layout);
  }
  nlohmann::json j = {{"bundle", dir},
                      {"format_version", b.manifest.version},
                      {"model", b.manifest.model.name},
                      {"tokens", b.manifest.tokens},
                      {"entries", b.manifest.entries},
                      {"collections", nlohmann::json::parse(b.catalogue.collections_json())},
                      {"descriptor_dim", b.recipe.out_dim},
                      {"match_threshold", b.recipe.match_threshold},
                      {"index", b.partitioned() ? nlohmann::json{{"kind", "partitioned"}, {"kernel", best_l2_int8_name()}}
                                                : nlohmann::json{{"M", b.index.params().M}, {"ef_search", b.index.params().ef_search}, {"kernel", best_l2_int8_name()}}},
                      {"layout", layout},
                      {"files", files},
                      {"bytes_without_model", total_no_model},
                      {"bytes_per_token_without_model", total_no_model / n},
                      {"bytes_per_token_always", always_no_model / n},  // what a browser loads before its first query
                      {"bytes_per_token_total", total_no_model / n},
                      {"file_count", 1 + b.manifest.files.size() + (b.partitioned() ? b.layout.shard_files().size() + b.layout.fragment_files().size() + (b.layout.has_words() ? 1 + b.layout.words.size() : 0) +
                                                                       b.layout.has_directory() + b.layout.packs.size() : 0)},
                      {"verdict", nlohmann::json::parse(b.manifest.verdict.to_json())}};
  // The collection test (style_model.h): one model per collection, or none (the cosine floor decides).
  nlohmann::json style = nlohmann::json::object();
  for (const auto& m : b.style.collections)
    style[m.slug] = {{"directions", b.style.dims}, {"log_residual", {m.log_mean, m.log_sd}}, {"cosine", {m.cos_mean, m.cos_sd}}, {"threshold", m.threshold}, {"max_residual", m.max_residual}};
  j["style"] = style;
  if (as_json) {
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << "bundle       " << dir << " (format " << b.manifest.version << ", " << b.manifest.generator << ")\n"
            << "model        " << b.manifest.model.name << " (" << b.manifest.model.feature_dim() << "-d features)\n"
            << "tokens       " << b.manifest.tokens << " in " << b.catalogue.collections.size() << " collection(s), " << b.manifest.entries << " index entries\n"
            << "descriptor   " << b.recipe.out_dim << " x int8, "
            << (b.partitioned() ? std::to_string(b.layout.partitions()) + " partitions fetched per query (probe " + std::to_string(b.layout.default_probe) + ")"
                                : "HNSW M=" + std::to_string(b.index.params().M) + " ef=" + std::to_string(b.index.params().ef_search))
            << ", distance kernel " << best_l2_int8_name() << "\n"
            << "threshold    " << b.recipe.match_threshold << " (cosine of a copy with its token: 90% of held-out copies reach it)\n"
            << "verdict      " << (b.manifest.verdict.collections.empty() ? "" : "global: ") << verdict_line(b.manifest.verdict.global) << "\n";
  // (per collection: the model of the first result's collection decides; the global one for the rest)
  for (const auto& [slug, m] : b.manifest.verdict.collections) std::cout << "             " << slug << ": " << verdict_line(m, &b.manifest.verdict.global) << "\n";
  if (b.style.empty()) std::cout << "style        none (the collection test is the cosine floor)\n";
  for (const auto& m : b.style.collections)
    std::cout << (&m == &b.style.collections.front() ? "style        " : "             ") << m.slug << ": " << b.style.dims << " directions; outside score <= " << m.threshold
              << " looks like its tokens\n";
  std::cout << "\n"
            << std::left << std::setw(11) << "file" << std::setw(34) << "name" << std::right << std::setw(12) << "bytes" << std::setw(14) << "bytes/token" << "\n";
  for (auto& f : files)
    std::cout << std::left << std::setw(11) << f["role"].get<std::string>() << std::setw(34) << f["name"].get<std::string>() << std::right
              << std::setw(12) << f["bytes"].get<uint64_t>() << std::setw(14) << std::fixed << std::setprecision(1) << f["bytes_per_token"].get<double>() << "\n";
  std::cout << std::left << std::setw(45) << "loaded at open, without model" << std::right << std::setw(12) << always_no_model << std::setw(14)
            << std::fixed << std::setprecision(1) << always_no_model / n << "\n"
            << std::left << std::setw(45) << "total without model" << std::right << std::setw(12) << total_no_model << std::setw(14)
            << std::fixed << std::setprecision(1) << total_no_model / n << "\n"
            << j["file_count"].get<size_t>() << " files\n";
  return 0;
}

int run_verify(const std::string& dir, bool json) {
  // Each check prints a line ("ok", "MISMATCH", "INVALID"), or with --json becomes an entry of
  // {"bundle", "ok", "problems", "checks": [{"status", "file"|"error"}]}.
  nlohmann::json checks = nlohmann::json::array();
  auto say = [&](const char* status, const std::string& what) {
    if (json) checks.push_back({{"status", status}, {std::string(status) == "ok" ? "file" : "error", what}});
    else std::cout << (std::string(status) == "ok" ? "ok       " : std::string(status) == "mismatch" ? "MISMATCH " : "INVALID  ") << what << "\n";
  };
  const fs::path mpath = fs::path(dir) / "manifest.json";
  const auto mb = read_bytes(mpath, 64 << 20);
  const Manifest m = parse_manifest(std::string(mb.begin(), mb.end()));
  int bad = 0;
  for (auto& f : m.files) {
    const fs::path p = fs::path(dir) / f.name;
    try {
      if (!fs::exists(p)) throw Error(p.string() + ": missing");
      const auto bytes = read_bytes(p, f.bytes + 1);
      verify_file(f, bytes.data(), bytes.size());
      say("ok", f.name);
    } catch (const Error& e) {
      ++bad;
      say("mismatch", e.what());
    }
  }
  if (!bad) {
    try {
      Bundle b = load_bundle_dir(dir);  // structure and cross-references too
      if (b.partitioned() && b.layout.has_directory()) {  // (table version 5) the directory, then the packs it lists
        try {
          load_directory_file(b, dir);
          say("ok", b.layout.directory.name("directory"));
        } catch (const Error& e) {
          ++bad;
          say("mismatch", e.what());
        }
        for (const PartFile& p : b.layout.packs) {
          const std::string name = p.name("thumbs");
          try {
            const fs::path path = fs::path(dir) / name;
            if (!fs::exists(path)) throw Error(path.string() + ": missing (listed in the partition table)");
            const auto bytes = read_bytes(path, size_t(p.bytes) + 1);
            verify_part(p, name, bytes.data(), bytes.size());
            say("ok", name);
          } catch (const Error& e) {
            ++bad;
            say("mismatch", e.what());
          }
        }
      }
      if (b.partitioned() && !bad) {  // every shard and catalogue fragment against the partition table
        PartStore store(0);   // budget 0: parse and check each part, keep none
        auto check = [&](const std::string& name, auto add) {
          try {
            const fs::path p = fs::path(dir) / name;
            if (!fs::exists(p)) throw Error(p.string() + ": missing (listed in the partition table)");
            const auto bytes = read_bytes(p, size_t(64) << 20);
            add(bytes);
            store.touch({}, {});
          } catch (const Error& e) {
            ++bad;
            say("mismatch", e.what());
          }
        };
        // Each file whole, then each part in it (a damaged part is named with its byte range).
        auto check_files = [&](const std::vector<PartitionLayout::GroupFile>& gfs, bool shards) {
          for (const auto& g : gfs)
            check(g.name, [&](const std::vector<uint8_t>& x) {
              for (uint32_t i = g.first_part; i < g.first_part + g.parts; ++i) {
                const PartPlace at = shards ? b.layout.shard_place(i) : b.layout.fragment_place(i);
                const size_t have = at.offset >= x.size() ? 0 : std::min<size_t>(size_t(at.bytes), x.size() - size_t(at.offset));
                const uint8_t* data = x.data() + std::min<size_t>(size_t(at.offset), x.size());
                if (shards) {
                  store.add_shard(b.layout, b.catalogue.collections.size(), i, data, have);  // (short: named as truncated)
                  b.layout.learn_fragments(store.shard(i).carried, at.label("shard", i));  // (as the directory says)
                } else {
                  store.add_fragment(b.layout, i, data, have);
                }
                store.touch({}, {});
              }
              verify_part(g.file, g.name, x.data(), x.size());  // the whole file (trailing bytes too; version 3: the part itself)
            });
        };
        check_files(b.layout.shard_files(), true);
        check_files(b.layout.fragment_files(), false);
        if (!bad) say("ok", std::to_string(b.layout.partitions()) + " shards and " + std::to_string(b.layout.fragments.size()) + " catalogue fragments");
        if (!bad && b.layout.has_words()) {  // the word index: lexicon, then each chunk against it
          std::unique_ptr<WordLexicon> lex;
          check(b.layout.lexicon.name("lexicon"), [&](const std::vector<uint8_t>& x) {
            verify_part(b.layout.lexicon, b.layout.lexicon.name("lexicon"), x.data(), x.size());
            lex = std::make_unique<WordLexicon>(WordLexicon::decode(x.data(), x.size(), b.layout.lexicon.name("lexicon")));
            if (lex->tokens != b.manifest.tokens || lex->chunks() != b.layout.words.size())
              throw Error(b.layout.lexicon.name("lexicon") + ": the lexicon does not match the partition table");
          });
          for (uint32_t w = 0; lex && w < b.layout.words.size(); ++w)
            check(b.layout.words[w].name("words"), [&](const std::vector<uint8_t>& x) {
              verify_part(b.layout.words[w], b.layout.words[w].name("words"), x.data(), x.size());
              WordChunk::decode(x.data(), x.size(), *lex, w, b.layout.words[w].name("words"));
            });
          if (!bad) say("ok", "word lexicon and " + std::to_string(b.layout.words.size()) + " word chunks");
        }
      }
      if (!bad) {  // every thumbnail against its token's catalogue entry (the packs' offset table)
        NativeLens lens(dir, 1, false);
        size_t checked = 0;
        for (uint32_t t = 0; t < b.manifest.tokens; ++t) {
          try {
            checked += lens.check_thumbnail(t);
          } catch (const Error& e) {
            ++bad;
            say("mismatch", e.what());
            if (bad >= 20) break;  // (one damaged pack would otherwise print a line per token)
          }
        }
        if (!bad) say("ok", std::to_string(checked) + " thumbnails in " + std::to_string(b.manifest.packs.size()) + " packs");
      }
    } catch (const Error& e) {
      ++bad;
      say("invalid", e.what());
    }
  }
  if (json) std::cout << nlohmann::json({{"bundle", dir}, {"ok", bad == 0}, {"problems", bad}, {"checks", checks}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  else std::cout << (bad ? "verify: FAILED (" + std::to_string(bad) + " problem(s))" : "verify: all files match manifest.json") << "\n";
  return bad ? 1 : 0;
}

}  // namespace nftlens

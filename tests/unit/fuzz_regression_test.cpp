// Inputs the fuzz targets (fuzz/) found crashing a parser, each kept as the
// smallest input that did it.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "events.h"
#include "scan/manifest_loader.hpp"
#include "shimwatch/decode.hpp"

using shimwatch::ClockOffset;
using shimwatch::decode_event;
using shimwatch::scan::LoadedManifests;
using shimwatch::scan::parse_manifest_text;

namespace {

// A record whose ktime, plus the boot-to-realtime offset, does not fit in the
// signed Unix time: signed overflow (decode_event_fuzzer, ktime 0x7373...).
TEST(FuzzRegression, DecodeKtimeThatOverflowsTheUnixTimeIsAnError) {
  auto rec = std::make_unique<sw_event>();
  rec->hdr.type = SW_EVENT_CONNECT;
  rec->hdr.size = static_cast<__u32>(offsetof(sw_event, args));
  for (uint64_t ktime : {uint64_t{8319119876378817403u}, uint64_t{UINT64_MAX}}) {
    rec->hdr.ktime_ns = ktime;
    std::span<const std::byte> raw(reinterpret_cast<const std::byte *>(rec.get()),
                                   offsetof(sw_event, args));
    auto event = decode_event(raw, ClockOffset{1'700'000'000'000'000'000});
    ASSERT_FALSE(event) << ktime;
    EXPECT_NE(event.error().message.find("out of range"), std::string::npos)
        << event.error().message;
  }
  // The largest stamp that still fits decodes.
  rec->hdr.ktime_ns = INT64_MAX - 1'700'000'000'000'000'000;
  std::span<const std::byte> raw(reinterpret_cast<const std::byte *>(rec.get()),
                                 offsetof(sw_event, args));
  auto event = decode_event(raw, ClockOffset{1'700'000'000'000'000'000});
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(event->timestamp_ns, INT64_MAX);
}

// `kind` or `metadata.name` that is not a string threw nlohmann's type_error
// out of the loader and ended `shimwatch scan` (scan_manifest_fuzzer).
TEST(FuzzRegression, ManifestWithNonStringKindOrNameIsNotAnObject) {
  LoadedManifests out;
  EXPECT_NO_THROW(parse_manifest_text("kind: 5\n", "kind.yaml", false, out));
  EXPECT_NO_THROW(parse_manifest_text(R"({"kind": ["Pod"]})", "kind.json", false, out));
  EXPECT_TRUE(out.objects.empty());

  EXPECT_NO_THROW(parse_manifest_text("kind: Pod\nmetadata:\n  name: [a]\n---\nkind: Pod\n"
                                      "metadata:\n  name: web\n",
                                      "name.yaml", false, out));
  ASSERT_EQ(out.objects.size(), 2u);
  EXPECT_EQ(out.objects[0].source.kind, "Pod");
  EXPECT_EQ(out.objects[0].source.name, "");
  EXPECT_EQ(out.objects[1].source.name, "web");
}

} // namespace

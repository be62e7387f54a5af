// decode_event() on records built byte for byte as the BPF probes send them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <sys/sysmacros.h>
#include <vector>

#include "events.h"
#include "shimwatch/decode.hpp"

using namespace std::string_literals;
using namespace std::string_view_literals;
using shimwatch::Action;
using shimwatch::ClockOffset;
using shimwatch::decode_event;

namespace {

constexpr size_t fixed_size = offsetof(sw_event, args);

class DecodeTest : public ::testing::Test {
protected:
  // sw_event is over 5 KiB: keep it off the stack, zeroed like a fresh reservation.
  std::unique_ptr<sw_event> rec = std::make_unique<sw_event>();

  void set_args(std::string_view args) {
    ASSERT_LE(args.size(), sizeof(rec->args));
    std::memcpy(rec->args, args.data(), args.size());
    rec->args_size = static_cast<__u16>(args.size());
  }

  void set_exe(std::string_view exe) {
    ASSERT_LE(exe.size(), sizeof(rec->exe));
    std::memcpy(rec->exe, exe.data(), exe.size());
    rec->exe_size = static_cast<__u16>(exe.size());
  }

  void set_addr(std::string_view path, bool abstract) {
    ASSERT_LE(path.size(), sizeof(rec->addr.path));
    std::memcpy(rec->addr.path, path.data(), path.size());
    rec->addr.len = static_cast<__u32>(path.size());
    rec->addr.abstract = abstract ? 1 : 0;
  }

  void make_exec() {
    rec->hdr.type = SW_EVENT_EXEC;
    rec->hdr.ktime_ns = 5'000'000'123;
    rec->task.pid = 4242;
    rec->task.tid = 4243;
    rec->task.ppid = 17;
    rec->task.uid = 1000;
    rec->task.gid = 1001;
    rec->task.mnt_ns = 4026531841u;
    rec->task.pid_ns = 4026531836u;
    rec->task.cgroup_id = 0x1122334455667788ull;
    std::strcpy(rec->task.comm, "docker");
    std::strcpy(rec->task.parent_comm, "bash");
    std::strcpy(rec->exec_path, "/usr/bin/docker");
    set_exe("docker\0bin\0usr\0"sv);
    set_args("docker\0ps\0-a\0"sv);
  }

  void make_connect() {
    rec->hdr.type = SW_EVENT_CONNECT;
    rec->hdr.ktime_ns = 7'000'000'000;
    rec->task.pid = 900;
    rec->task.tid = 901;
    rec->task.ppid = 1;
    std::strcpy(rec->task.comm, "node-exporter");
    std::strcpy(rec->task.parent_comm, "containerd-shim");
    set_addr("/var/run/docker.sock", false);
  }

  // What the ring buffer delivers: only offsetof(args) + args_size bytes,
  // and the header says so.
  std::vector<std::byte> wire() {
    size_t size = fixed_size + rec->args_size;
    rec->hdr.size = static_cast<__u32>(size);
    return bytes(size);
  }

  // The first n bytes of the record as they are now, header untouched.
  std::vector<std::byte> bytes(size_t n) const {
    std::vector<std::byte> out(n);
    std::memcpy(out.data(), rec.get(), std::min(n, sizeof(sw_event)));
    return out;
  }
};

const ClockOffset no_offset{};

TEST_F(DecodeTest, ExecRecordFillsEveryField) {
  make_exec();
  auto raw = wire();
  auto event = decode_event(raw, ClockOffset{1'700'000'000'000'000'000});
  ASSERT_TRUE(event.ok()) << event.error().message;

  EXPECT_EQ(event->action, Action::docker_cli_exec);
  EXPECT_EQ(event->ktime_ns, 5'000'000'123u);
  EXPECT_EQ(event->timestamp_ns, 1'700'000'005'000'000'123);
  EXPECT_EQ(event->process.pid, 4242u);
  EXPECT_EQ(event->process.tid, 4243u);
  EXPECT_EQ(event->process.ppid, 17u);
  EXPECT_EQ(event->process.uid, 1000u);
  EXPECT_EQ(event->process.gid, 1001u);
  EXPECT_EQ(event->mnt_ns, 4026531841u);
  EXPECT_EQ(event->pid_ns, 4026531836u);
  EXPECT_EQ(event->cgroup_id, 0x1122334455667788ull);
  EXPECT_EQ(event->process.name, "docker");
  EXPECT_EQ(event->process.parent_name, "bash");
  EXPECT_EQ(event->exec_path, "/usr/bin/docker");
  EXPECT_EQ(event->process.executable, "/usr/bin/docker");
  EXPECT_FALSE(event->process.executable_truncated);
  EXPECT_EQ(event->process.args, (std::vector<std::string>{"docker", "ps", "-a"}));
  EXPECT_FALSE(event->process.args_truncated);
  EXPECT_FALSE(event->process.args_unreadable);
  EXPECT_EQ(event->error, 0);
  EXPECT_TRUE(event->success());
  EXPECT_EQ(event->socket_path, "");
  EXPECT_FALSE(event->socket_abstract);
}

TEST_F(DecodeTest, FullLengthCommHasNoNulAndStaysBounded) {
  make_exec();
  std::memcpy(rec->task.comm, "0123456789abcdef", SW_COMM_LEN);
  std::memcpy(rec->task.parent_comm, "fedcba9876543210", SW_COMM_LEN);
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->process.name, "0123456789abcdef");
  EXPECT_EQ(event->process.parent_name, "fedcba9876543210");
}

TEST_F(DecodeTest, ArgsKeepEmptyArguments) {
  make_exec();
  set_args("docker\0\0run\0\0"sv);
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->process.args, (std::vector<std::string>{"docker", "", "run", ""}));
}

TEST_F(DecodeTest, CutOffLastArgumentWithoutNulIsKept) {
  make_exec();
  set_args("docker\0inspect\0abc"sv);
  rec->flags = SW_FLAG_ARGS_TRUNCATED;
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->process.args, (std::vector<std::string>{"docker", "inspect", "abc"}));
  EXPECT_TRUE(event->process.args_truncated);
  EXPECT_FALSE(event->process.args_unreadable);
}

TEST_F(DecodeTest, ArgsBytesAreKeptVerbatim) {
  make_exec();
  set_args("sh\0-c\0echo \"a\nb\"\xff\x80\0"sv);
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->process.args, (std::vector<std::string>{"sh", "-c", "echo \"a\nb\"\xff\x80"}));
}

TEST_F(DecodeTest, UnreadableArgsGiveNoArguments) {
  make_exec();
  set_args(""sv);
  rec->flags = SW_FLAG_ARGS_UNREADABLE;
  auto raw = wire();
  ASSERT_EQ(raw.size(), fixed_size);
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_TRUE(event->process.args.empty());
  EXPECT_TRUE(event->process.args_unreadable);
  EXPECT_FALSE(event->process.args_truncated);
}

TEST_F(DecodeTest, AnIoUringWorkersCallSaysSo) {
  make_exec();
  auto plain = decode_event(wire(), no_offset);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE(plain->process.io_uring_worker);
  rec->flags = SW_FLAG_IO_URING;
  auto event = decode_event(wire(), no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_TRUE(event->process.io_uring_worker);
}

TEST_F(DecodeTest, FullSizeArgsAreAccepted) {
  make_exec();
  std::string args(SW_ARGS_MAX, 'x');
  args[5] = '\0';
  set_args(args);
  auto raw = wire();
  ASSERT_EQ(raw.size(), sizeof(sw_event));
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  ASSERT_EQ(event->process.args.size(), 2u);
  EXPECT_EQ(event->process.args[0], "xxxxx");
  EXPECT_EQ(event->process.args[1], std::string(SW_ARGS_MAX - 6, 'x'));
}

TEST_F(DecodeTest, ExecutableComponentsArriveLeafFirst) {
  make_exec();
  set_exe("docker\0bin\0usr\0"sv);
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->process.executable, "/usr/bin/docker");
}

TEST_F(DecodeTest, TruncatedExecutableGetsEllipsisPrefix) {
  make_exec();
  set_exe("docker\0bin\0"sv);
  rec->flags = SW_FLAG_EXE_TRUNCATED;
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->process.executable, ".../bin/docker");
  EXPECT_TRUE(event->process.executable_truncated);
}

TEST_F(DecodeTest, OverhangingLastComponentIsDropped) {
  // The probe cuts exe at SW_EXE_DATA in the middle of a component, without
  // its NUL, and flags the cut; the partial name must not show up.
  make_exec();
  std::string exe = "docker\0bin\0"s;
  exe += std::string(SW_EXE_DATA - exe.size(), 'u');
  set_exe(exe);
  rec->flags = SW_FLAG_EXE_TRUNCATED;
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->process.executable, ".../bin/docker");
}

TEST_F(DecodeTest, NoExecutableComponentsGiveEmptyExecutable) {
  make_exec();
  set_exe(""sv);
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->process.executable, "");
}

TEST_F(DecodeTest, ConnectToFilesystemSocket) {
  make_connect();
  auto raw = wire();
  auto event = decode_event(raw, ClockOffset{1'000});
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->action, Action::docker_socket_connect);
  EXPECT_EQ(event->timestamp_ns, 7'000'001'000);
  EXPECT_EQ(event->socket_path, "/var/run/docker.sock");
  EXPECT_FALSE(event->socket_abstract);
  EXPECT_EQ(event->error, 0);
  EXPECT_TRUE(event->success());
  EXPECT_EQ(event->process.name, "node-exporter");
  EXPECT_EQ(event->process.parent_name, "containerd-shim");
  EXPECT_EQ(event->exec_path, "");
}

TEST_F(DecodeTest, ConnectIgnoresExecPathField) {
  make_connect();
  std::strcpy(rec->exec_path, "/usr/bin/docker");
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->exec_path, "");
}

TEST_F(DecodeTest, ConnectToAbstractSocket) {
  make_connect();
  set_addr("\0name"sv, true);
  ASSERT_EQ(rec->addr.len, 5u);
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->socket_path, "@name");
  EXPECT_TRUE(event->socket_abstract);
}

TEST_F(DecodeTest, FailedConnectCarriesErrno) {
  make_connect();
  rec->ret = -2;
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->error, 2);
  EXPECT_FALSE(event->success());

  rec->ret = -111;
  raw = wire();
  event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->error, 111);
}

TEST_F(DecodeTest, TimestampAddsBootToRealtimeOffset) {
  make_exec();
  rec->hdr.ktime_ns = 123'456'789;
  auto raw = wire();
  auto event = decode_event(raw, ClockOffset{1'600'000'000'000'000'000});
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->timestamp_ns, 1'600'000'000'123'456'789);
  EXPECT_EQ(event->ktime_ns, 123'456'789u);

  event = decode_event(raw, ClockOffset{-100'000'000});
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->timestamp_ns, 23'456'789);
}

TEST_F(DecodeTest, ClockOffsetNowIsPlausible) {
  // Realtime minus boottime is the boot instant: after 2020, before now.
  auto offset = ClockOffset::now();
  EXPECT_GT(offset.boot_to_realtime_ns, 1'577'836'800'000'000'000);
  EXPECT_LT(offset.boot_to_realtime_ns, 4'102'444'800'000'000'000);
}

TEST_F(DecodeTest, UnalignedBufferDecodes) {
  // Ring buffer records are only 8-byte aligned; decode must not assume more.
  make_exec();
  auto raw = wire();
  std::vector<std::byte> shifted(raw.size() + 1);
  std::memcpy(shifted.data() + 1, raw.data(), raw.size());
  auto event = decode_event(std::span<const std::byte>(shifted).subspan(1), no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->process.args, (std::vector<std::string>{"docker", "ps", "-a"}));
}

TEST_F(DecodeTest, RejectsEmptyRecord) {
  auto event = decode_event({}, no_offset);
  ASSERT_FALSE(event.ok());
  EXPECT_FALSE(event.error().message.empty());
}

TEST_F(DecodeTest, RejectsRecordShorterThanFixedPart) {
  make_exec();
  rec->hdr.size = fixed_size - 1;
  auto raw = bytes(fixed_size - 1);
  auto event = decode_event(raw, no_offset);
  ASSERT_FALSE(event.ok());
  EXPECT_NE(event.error().message.find(std::to_string(fixed_size - 1)), std::string::npos)
      << event.error().message;
}

TEST_F(DecodeTest, RejectsRecordLongerThanAnyEvent) {
  make_exec();
  set_args(std::string(SW_ARGS_MAX, 'a'));
  rec->hdr.size = sizeof(sw_event) + 8;
  auto raw = bytes(sizeof(sw_event) + 8);
  auto event = decode_event(raw, no_offset);
  ASSERT_FALSE(event.ok());
  EXPECT_NE(event.error().message.find(std::to_string(sizeof(sw_event) + 8)), std::string::npos)
      << event.error().message;
}

TEST_F(DecodeTest, RejectsHeaderSizeMismatch) {
  make_exec();
  auto raw = wire();
  rec->hdr.size += 8;
  raw = bytes(raw.size());
  auto event = decode_event(raw, no_offset);
  ASSERT_FALSE(event.ok());
  EXPECT_NE(event.error().message.find(std::to_string(rec->hdr.size)), std::string::npos)
      << event.error().message;
}

TEST_F(DecodeTest, RejectsArgsSizeOverrunningRecord) {
  make_exec();
  set_args("docker\0ps\0"sv);
  // Header and length agree, but args_size claims more than arrived.
  size_t size = fixed_size + 4;
  rec->hdr.size = static_cast<__u32>(size);
  auto raw = bytes(size);
  auto event = decode_event(raw, no_offset);
  ASSERT_FALSE(event.ok());
  EXPECT_NE(event.error().message.find("10"), std::string::npos) << event.error().message;
}

TEST_F(DecodeTest, RejectsArgsSizeBeyondArgsField) {
  make_exec();
  rec->args_size = SW_ARGS_MAX + 1;
  rec->hdr.size = sizeof(sw_event);
  auto raw = bytes(sizeof(sw_event));
  auto event = decode_event(raw, no_offset);
  ASSERT_FALSE(event.ok());
}

TEST_F(DecodeTest, RejectsExeSizeBeyondExeData) {
  make_exec();
  rec->exe_size = SW_EXE_DATA + 1;
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_FALSE(event.ok());
  EXPECT_NE(event.error().message.find(std::to_string(SW_EXE_DATA + 1)), std::string::npos)
      << event.error().message;

  rec->exe_size = SW_EXE_DATA;
  raw = wire();
  EXPECT_TRUE(decode_event(raw, no_offset).ok());
}

TEST_F(DecodeTest, RejectsSocketLengthBeyondSunPath) {
  make_connect();
  rec->addr.len = SW_UNIX_PATH_MAX + 1;
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_FALSE(event.ok());
  EXPECT_NE(event.error().message.find(std::to_string(SW_UNIX_PATH_MAX + 1)), std::string::npos)
      << event.error().message;

  set_addr(std::string(SW_UNIX_PATH_MAX, 'p'), false);
  raw = wire();
  auto full = decode_event(raw, no_offset);
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_EQ(full->socket_path, std::string(SW_UNIX_PATH_MAX, 'p'));
}

TEST_F(DecodeTest, RejectsUnknownType) {
  for (__u32 type : {0u, 6u, 0xffffffffu}) {
    make_exec();
    rec->hdr.type = type;
    auto raw = wire();
    auto event = decode_event(raw, no_offset);
    ASSERT_FALSE(event.ok()) << "type " << type;
    EXPECT_NE(event.error().message.find(std::to_string(type)), std::string::npos)
        << event.error().message;
  }
}

TEST_F(DecodeTest, CgroupLevelsArriveInnermostFirst) {
  make_exec();
  constexpr auto names = "abc123\0pod6f1b\0burstable\0kubepods\0"sv;
  std::memcpy(rec->cgroup.names, names.data(), names.size());
  rec->cgroup.names_size = static_cast<__u16>(names.size());
  rec->cgroup.levels = 4;
  rec->cgroup.level = 4;
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->cgroup_path, "/kubepods/burstable/pod6f1b/abc123");
  EXPECT_EQ(event->cgroup_hierarchy, 0u);
}

TEST_F(DecodeTest, CgroupPathMissingItsTopLevelsSaysSo) {
  make_exec();
  constexpr auto names = "session-7.scope\0user-1000.slice\0"sv;
  std::memcpy(rec->cgroup.names, names.data(), names.size());
  rec->cgroup.names_size = static_cast<__u16>(names.size());
  rec->cgroup.levels = 2;
  rec->cgroup.level = 3;
  rec->cgroup.hierarchy = 12; // a v1 controller
  rec->flags |= SW_FLAG_CGROUP_TRUNCATED;
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->cgroup_path, ".../user-1000.slice/session-7.scope");
  EXPECT_EQ(event->cgroup_hierarchy, 12u);
}

TEST_F(DecodeTest, RootCgroupIsSlash) {
  make_exec();
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->cgroup_path, "/");
}

TEST_F(DecodeTest, RejectsCgroupNamesBeyondTheirField) {
  make_exec();
  rec->cgroup.names_size = SW_CGROUP_DATA + 1;
  rec->cgroup.level = 1;
  auto raw = wire();
  EXPECT_FALSE(decode_event(raw, no_offset).ok());
}

TEST_F(DecodeTest, AncestorsNearestFirst) {
  make_exec();
  rec->ancestors = 2;
  rec->ancestor[0] = {300, 4026531836u, 1'000'000'000, "sshd"};
  rec->ancestor[1] = {1, 4026531836u, 0, "systemd"};
  rec->flags |= SW_FLAG_ANCESTRY_TRUNCATED;
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_TRUE(event.ok()) << event.error().message;
  ASSERT_EQ(event->process.ancestry.size(), 2u);
  EXPECT_EQ(event->process.ancestry[0].pid, 300u);
  EXPECT_EQ(event->process.ancestry[0].name, "sshd");
  EXPECT_EQ(event->process.ancestry[0].start_boottime_ns, 1'000'000'000u);
  EXPECT_EQ(event->process.ancestry[1].name, "systemd");
  EXPECT_TRUE(event->process.ancestry_truncated);
}

TEST_F(DecodeTest, RejectsMoreAncestorsThanTheFieldHolds) {
  make_exec();
  rec->ancestors = SW_ANCESTORS_MAX + 1;
  auto raw = wire();
  auto event = decode_event(raw, no_offset);
  ASSERT_FALSE(event.ok());
}

TEST_F(DecodeTest, InterruptedConnectIsEintrNotAKernelInternalCode) {
  for (int restart : {512, 513, 514, 516}) {
    make_connect();
    rec->ret = -restart;
    auto raw = wire();
    auto event = decode_event(raw, no_offset);
    ASSERT_TRUE(event.ok());
    EXPECT_EQ(event->error, EINTR) << restart;
    EXPECT_TRUE(event->interrupted) << restart;
  }
  make_connect();
  rec->ret = -ECONNREFUSED;
  auto raw = wire();
  auto refused = decode_event(raw, no_offset);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->interrupted);
}

} // namespace

namespace {

void set_peer(sw_event &rec, std::string_view path, bool abstract, uint64_t ino, uint32_t dev) {
  std::memcpy(rec.peer.path, path.data(), path.size());
  rec.peer.len = static_cast<__u16>(path.size());
  rec.peer.abstract = abstract ? 1 : 0;
  rec.peer.id.ino = ino;
  rec.peer.id.dev = dev;
}

} // namespace

TEST_F(DecodeTest, ConnectReachingAWatchedSocketUnderAnotherPathCarriesThePeer) {
  make_connect();
  set_addr("/host/run/d.sock", false);
  // The kernel's device encoding: major 8 << 20 | minor 3.
  set_peer(*rec, "/var/run/docker.sock", false, 123456, (8u << 20) | 3u);
  rec->flags = SW_FLAG_PEER_KNOWN | SW_FLAG_MATCHED_PEER;
  auto event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(event->socket_path, "/host/run/d.sock");
  EXPECT_EQ(event->socket_peer, "/var/run/docker.sock");
  EXPECT_EQ(event->socket_peer_ino, 123456u);
  EXPECT_EQ(event->socket_peer_dev, makedev(8, 3));
  EXPECT_TRUE(event->socket_matched_by_peer);
}

TEST_F(DecodeTest, ConnectMatchedByPathIsNotMatchedByPeerEvenWhenBothHold) {
  make_connect();
  set_peer(*rec, "/var/run/docker.sock", false, 99, 1);
  rec->flags = SW_FLAG_PEER_KNOWN | SW_FLAG_MATCHED_PEER | SW_FLAG_MATCHED_PATH;
  auto event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event);
  EXPECT_FALSE(event->socket_matched_by_peer);
  EXPECT_EQ(event->socket_peer, "/var/run/docker.sock");
}

TEST_F(DecodeTest, PeerFieldsAreIgnoredUnlessKnown) {
  make_connect();
  set_peer(*rec, "/stale/from/an/earlier/record", false, 7, 7);
  rec->flags = SW_FLAG_MATCHED_PATH;
  auto event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event);
  EXPECT_EQ(event->socket_peer, "");
  EXPECT_EQ(event->socket_peer_ino, 0u);
  EXPECT_FALSE(event->socket_matched_by_peer);
}

TEST_F(DecodeTest, AbstractPeerGetsAnAtSign) {
  make_connect();
  set_peer(*rec, "\0containerd-shim/abc"sv, true, 0, 0);
  rec->flags = SW_FLAG_PEER_KNOWN | SW_FLAG_MATCHED_PATH;
  auto event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event);
  EXPECT_EQ(event->socket_peer, "@containerd-shim/abc");
}

TEST_F(DecodeTest, PeerLengthPastItsFieldIsAnError) {
  make_connect();
  rec->peer.len = SW_UNIX_PATH_MAX + 1;
  rec->flags = SW_FLAG_PEER_KNOWN;
  auto event = decode_event(wire(), ClockOffset{0});
  ASSERT_FALSE(event);
  EXPECT_NE(event.error().message.find("peer"), std::string::npos);
}

TEST_F(DecodeTest, TcpConnectCarriesTheDestination) {
  make_connect();
  rec->hdr.type = SW_EVENT_TCP_CONNECT;
  rec->inet.family = SW_AF_INET6;
  rec->inet.port = 2376;
  rec->inet.addr[15] = 1; // ::1
  rec->ret = -ECONNREFUSED;
  rec->flags = SW_FLAG_COMPLETED_LATER;
  auto event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(event->action, Action::docker_api_tcp_connect);
  EXPECT_EQ(event->tcp_address, "::1");
  EXPECT_EQ(event->tcp_port, 2376);
  EXPECT_EQ(event->error, ECONNREFUSED);
  EXPECT_TRUE(event->socket_path.empty());

  rec->inet = {};
  rec->inet.family = SW_AF_INET;
  rec->inet.port = 2375;
  const unsigned char loopback[] = {127, 0, 0, 1};
  std::memcpy(rec->inet.addr, loopback, 4);
  rec->ret = 0;
  event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event);
  EXPECT_EQ(event->tcp_address, "127.0.0.1");
  EXPECT_EQ(event->tcp_port, 2375);
  EXPECT_TRUE(event->success());
}

TEST_F(DecodeTest, TcpConnectWithAnUnknownFamilyIsAnError) {
  make_connect();
  rec->hdr.type = SW_EVENT_TCP_CONNECT;
  rec->inet.family = 1;
  auto event = decode_event(wire(), ClockOffset{0});
  ASSERT_FALSE(event);
  EXPECT_NE(event.error().message.find("family"), std::string::npos);
}

TEST_F(DecodeTest, ExecMatchedByIdentityIsMarked) {
  make_exec();
  std::strcpy(rec->exec_path, "/opt/tools/containerctl");
  rec->flags = SW_FLAG_EXEC_IDENTITY;
  auto event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event);
  EXPECT_TRUE(event->exec_matched_by_identity);
  rec->flags = 0;
  event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event);
  EXPECT_FALSE(event->exec_matched_by_identity);
}

TEST_F(DecodeTest, ConfigOpenCarriesThePathBelowTheWatchedEntry) {
  make_exec();
  rec->hdr.type = SW_EVENT_CONFIG_OPEN;
  std::memset(rec->exec_path, 0, sizeof(rec->exec_path));
  const auto names = "ca.crt\0reg:5000\0certs.d\0"sv;
  std::memcpy(rec->exec_path, names.data(), names.size());
  rec->matched.ino = 77;
  rec->matched.dev = (8u << 20) | 1u;
  rec->matched_depth = 3;
  rec->flags = 0;
  auto event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(event->action, Action::docker_config_read);
  EXPECT_EQ(event->config_relative_path, "certs.d/reg:5000/ca.crt");
  EXPECT_EQ(event->config_matched_ino, 77u);
  EXPECT_EQ(event->config_matched_dev, makedev(8, 1));

  rec->flags = SW_FLAG_OPEN_WRITE;
  rec->matched_depth = 0; // the watched file itself
  event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event);
  EXPECT_EQ(event->action, Action::docker_config_write);
  EXPECT_EQ(event->config_relative_path, "");
}

TEST_F(DecodeTest, ConfigRenameCarriesTheDestination) {
  make_exec();
  rec->hdr.type = SW_EVENT_CONFIG_RENAME;
  std::memset(rec->exec_path, 0, sizeof(rec->exec_path));
  // Relative: the name as passed, then the directories up to the watched
  // entry from the middle on, leaf first.
  const auto name = "daemon.json"sv;
  const auto dirs = "reg:5000\0certs.d\0"sv;
  std::memcpy(rec->exec_path, name.data(), name.size());
  std::memcpy(rec->exec_path + sizeof(rec->exec_path) / 2, dirs.data(), dirs.size());
  rec->matched.ino = 78;
  rec->matched.dev = (8u << 20) | 2u;
  rec->matched_depth = 2;
  rec->flags = 0;
  auto event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(event->action, Action::docker_config_write);
  EXPECT_TRUE(event->config_renamed);
  EXPECT_FALSE(event->config_absolute);
  EXPECT_EQ(event->config_relative_path, "certs.d/reg:5000/daemon.json");
  EXPECT_EQ(event->config_matched_dev, makedev(8, 2));

  rec->matched_depth = 0; // in the watched directory itself
  event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event);
  EXPECT_EQ(event->config_relative_path, "daemon.json");

  // Absolute: the path as passed, whole.
  std::memset(rec->exec_path, 0, sizeof(rec->exec_path));
  const auto path = "/etc/docker//daemon.json"sv;
  std::memcpy(rec->exec_path, path.data(), path.size());
  rec->flags = SW_FLAG_RENAME_ABSOLUTE;
  event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event);
  EXPECT_TRUE(event->config_absolute);
  EXPECT_EQ(event->config_path, "/etc/docker//daemon.json");

  // A name that fills its half without a NUL is cut there, never read on.
  std::memset(rec->exec_path, 'x', sizeof(rec->exec_path));
  rec->flags = 0;
  rec->matched_depth = 4;
  event = decode_event(wire(), ClockOffset{0});
  ASSERT_TRUE(event);
  EXPECT_LE(event->config_relative_path.size(), sizeof(rec->exec_path) + 8);
}

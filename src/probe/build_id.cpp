// The build-id of an ELF binary: what makes a renamed copy of the docker CLI
// recognisable without hashing the whole file.
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "shimwatch/fd.hpp"
#include "shimwatch/probe.hpp"

namespace shimwatch {
namespace {

constexpr uint32_t kGnuBuildIdNote = 3; // NT_GNU_BUILD_ID
constexpr uint32_t kGoBuildIdNote = 4;  // the Go linker's note, named "Go\0\0"

std::string hex(const unsigned char *bytes, size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 0xf];
  }
  return out;
}

struct ElfCloser {
  void operator()(Elf *elf) const { elf_end(elf); }
};

} // namespace

std::optional<BuildId> read_build_id(int fd) {
  if (elf_version(EV_CURRENT) == EV_NONE)
    return std::nullopt;
  // ELF_C_READ reads (pread) the headers and notes it needs, nothing else,
  // and never maps the file: a file cut short under a mapping would raise
  // SIGBUS, and the file belongs to whoever ran it.
  std::unique_ptr<Elf, ElfCloser> elf(elf_begin(fd, ELF_C_READ, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF)
    return std::nullopt;
  size_t headers = 0;
  if (elf_getphdrnum(elf.get(), &headers) != 0)
    return std::nullopt;
  BuildId found;
  std::string go_id;
  for (size_t i = 0; i < headers && i < 64; ++i) {
    GElf_Phdr header;
    if (!gelf_getphdr(elf.get(), static_cast<int>(i), &header) || header.p_type != PT_NOTE)
      continue;
    if (header.p_filesz == 0 || header.p_filesz > uint64_t{64} * 1024)
      continue;
    Elf_Data *data = elf_getdata_rawchunk(elf.get(), static_cast<int64_t>(header.p_offset),
                                          header.p_filesz, ELF_T_NHDR);
    if (!data)
      continue;
    size_t offset = 0;
    GElf_Nhdr note;
    size_t name_at = 0, desc_at = 0;
    while ((offset = gelf_getnote(data, offset, &note, &name_at, &desc_at)) > 0) {
      const auto *base = static_cast<const unsigned char *>(data->d_buf);
      const char *name = reinterpret_cast<const char *>(base + name_at);
      if (note.n_type == kGnuBuildIdNote && note.n_namesz == 4 &&
          std::memcmp(name, "GNU", 4) == 0 && note.n_descsz > 0 && found.value.empty())
        found.value = "gnu:" + hex(base + desc_at, note.n_descsz);
      if (note.n_type == kGoBuildIdNote && (note.n_namesz == 3 || note.n_namesz == 4) &&
          std::memcmp(name, "Go", 3) == 0 && note.n_descsz > 0 && !found.go_toolchain) {
        found.go_toolchain = true;
        go_id = "go:" + std::string(reinterpret_cast<const char *>(base + desc_at), note.n_descsz);
      }
    }
  }
  if (found.value.empty())
    found.value = go_id;
  if (found.value.empty())
    return std::nullopt;
  return found;
}

std::optional<BuildId> read_build_id(const std::string &path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd)
    return std::nullopt;
  return read_build_id(fd.get());
}

} // namespace shimwatch

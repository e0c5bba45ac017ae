# What both Debian cross toolchains share (included by the
# toolchain-TRIPLE.cmake files, which set MQ_CROSS_TRIPLE, MQ_CROSS_PROCESSOR
# and MQ_CROSS_QEMU first).
#
# Debian's cross compilers (crossbuild-essential-ARCH) look in the
# multiarch folders /usr/include/TRIPLE and /usr/lib/TRIPLE by themselves,
# where `apt-get install libsqlite3-dev:ARCH` puts the target's libraries,
# so no sysroot is needed; pkg-config is pointed at the target's .pc files.
# Tests run under qemu-user, with -L at the cross C library.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${MQ_CROSS_PROCESSOR})

set(CMAKE_C_COMPILER ${MQ_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${MQ_CROSS_TRIPLE}-g++)

# Only the target's .pc files: the build machine's would name its own
# libraries.  (pkg_check_modules runs at configure time, in this process.)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${MQ_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Programs are the build machine's; libraries and headers the target's,
# which CMake finds in the multiarch folders from CMAKE_LIBRARY_ARCHITECTURE
# (taken from the compiler).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

find_program(MQ_CROSS_QEMU_PATH ${MQ_CROSS_QEMU})
if(MQ_CROSS_QEMU_PATH)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MQ_CROSS_QEMU_PATH} -L /usr/${MQ_CROSS_TRIPLE})
else()
  message(WARNING "${MQ_CROSS_QEMU} not found (Debian package qemu-user): "
                  "the tests of this build cannot run here")
endif()

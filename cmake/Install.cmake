# What `cmake --install` puts beside the binaries and manual pages, and the
# Debian package made of the same set (`cpack -G DEB` in the build directory,
# or scripts/package): the notifiers, the rules and policy examples, the
# operator's page, the systemd units and their sysusers file, the cron jobs,
# a default /etc/dht, the database location for login shells, and shell
# completion.
#
# The files that name installed paths (/usr/local/bin/…, /etc/dht/…) are
# written at install time, for the prefix of that install: /usr/bin and /etc
# in the package, /usr/local/bin and /usr/local/etc after a plain
# `cmake --install build`.

install(PROGRAMS scripts/notify-mail scripts/notify-slack scripts/notify-telegram
        DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES scripts/rules/seed.rules DESTINATION ${CMAKE_INSTALL_DATADIR}/dht-tools/rules)
install(DIRECTORY scripts/homeassistant scripts/mosquitto DESTINATION ${CMAKE_INSTALL_DATADIR}/dht-tools
        USE_SOURCE_PERMISSIONS)
install(FILES scripts/systemd/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/dht-tools/systemd)
include(cmake/Page.cmake)
foreach(tool dht-sub dht-record dht-rules dht-stats dht-escalate dht-export-influx dht-export-graphite
             dht-sensor-sim dht-status)
  install(FILES scripts/completion/dht-tools.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
          RENAME ${tool})
endforeach()
install(FILES scripts/completion/_dht-tools DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)

set(DHT_SOURCE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
set(install_code [[
  set(prefix "${CMAKE_INSTALL_PREFIX}")
  if(prefix STREQUAL "/usr")
    set(etc "/etc")
  else()
    set(etc "${prefix}/etc")
  endif()
  set(bindir "${prefix}/bin")
  # install_text(SOURCE DESTINATION_FILE MODE): SOURCE with its paths moved to this install's.
  function(install_text source destination mode)
    file(READ "${source}" text)
    string(REPLACE "/usr/local/bin" "${bindir}" text "${text}")
    string(REPLACE "/etc/dht/" "${etc}/dht/" text "${text}")
    get_filename_component(dir "$ENV{DESTDIR}${destination}" DIRECTORY)
    file(MAKE_DIRECTORY "${dir}")
    file(WRITE "$ENV{DESTDIR}${destination}" "${text}")
    file(CHMOD "$ENV{DESTDIR}${destination}" PERMISSIONS ${mode})
    message(STATUS "Installing: $ENV{DESTDIR}${destination}")
  endfunction()
  set(src "@DHT_SOURCE_DIR@/scripts")
  set(rw OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  file(GLOB units "${src}/systemd/*.service")
  foreach(unit IN LISTS units)
    get_filename_component(name "${unit}" NAME)
    install_text("${unit}" "${prefix}/lib/systemd/system/${name}" "${rw}")
  endforeach()
  install_text("${src}/systemd/dht.sysusers.conf" "${prefix}/lib/sysusers.d/dht-tools.conf" "${rw}")
  file(GLOB conf "${src}/systemd/etc-dht/*")
  foreach(file IN LISTS conf)
    get_filename_component(name "${file}" NAME)
    if(name STREQUAL "mqtt-password")
      install_text("${file}" "${etc}/dht/${name}" "OWNER_READ;OWNER_WRITE")
    else()
      install_text("${file}" "${etc}/dht/${name}" "${rw}")
    endif()
  endforeach()
  install_text("${src}/cron/dht" "${etc}/cron.d/dht" "${rw}")
  install_text("${src}/profile.d/dht-tools.sh" "${etc}/profile.d/dht-tools.sh" "${rw}")
]])
string(CONFIGURE "${install_code}" install_code @ONLY)
install(CODE "${install_code}")

# The Debian package: dht-tools_VERSION_ARCH.deb.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dht-tools)
set(CPACK_PACKAGE_VENDOR "dht-tools")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "small Unix tools for temperature and humidity sensors over MQTT")
set(CPACK_PACKAGE_DESCRIPTION "dht-sub, dht-record, dht-rules, dht-escalate, dht-stats, dht-export-influx,
dht-export-graphite, dht-sensor-sim and dht-status: subscribe, keep history in SQLite,
apply alert rules, escalate incidents over MQTT, export to InfluxDB and
Graphite, serve Prometheus metrics. Line-delimited JSON between them.")
set(CPACK_PACKAGE_CONTACT "dht-tools maintainers <root@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Opened with dlopen() when a run needs them (common/src/dynlib.cpp), so
# dpkg-shlibdeps does not see them: HTTP for dht-export-influx, --listen for dht-stats.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libcurl4, libmicrohttpd12")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "mosquitto-clients, curl")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto, bsd-mailx")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/debian/conffiles
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/debian/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

# The operator's page (www/): its files and MQTT.js's browser bundle, at the
# version www/package.json pins, copied into the build tree's www/ (what the
# tests serve with dht-stats --www) and installed into
# ${CMAKE_INSTALL_DATADIR}/dht-tools/www, where dht-stats --listen finds it.
# scripts/setup installs the bundle with npm; DHT_MQTT_JS names another copy.

file(READ ${CMAKE_CURRENT_SOURCE_DIR}/www/package.json page_package)
string(JSON DHT_MQTT_JS_VERSION GET "${page_package}" dependencies mqtt)
set(DHT_MQTT_JS "/usr/local/lib/dht-tools/node_modules/mqtt/dist/mqtt.min.js"
    CACHE FILEPATH "MQTT.js's browser bundle, mqtt.min.js, for the operator's page")

set(page_files index.html operator.js operator.css)
set(page_build ${CMAKE_BINARY_DIR}/www)
foreach(f IN LISTS page_files)
  configure_file(www/${f} ${page_build}/${f} COPYONLY)
endforeach()

set(mqtt_js_found FALSE)
get_filename_component(mqtt_js_package "${DHT_MQTT_JS}/../../package.json" ABSOLUTE)
if(EXISTS "${DHT_MQTT_JS}" AND EXISTS "${mqtt_js_package}")
  file(READ "${mqtt_js_package}" mqtt_js_meta)
  string(JSON mqtt_js_version GET "${mqtt_js_meta}" version)
  if(mqtt_js_version STREQUAL DHT_MQTT_JS_VERSION)
    set(mqtt_js_found TRUE)
  else()
    message(WARNING "${DHT_MQTT_JS} is MQTT.js ${mqtt_js_version}, the page wants ${DHT_MQTT_JS_VERSION}: "
                    "run scripts/setup; the page is installed without it")
  endif()
else()
  message(WARNING "no MQTT.js ${DHT_MQTT_JS_VERSION} at ${DHT_MQTT_JS}: run scripts/setup; "
                  "the operator's page is installed without it and cannot connect")
endif()
if(mqtt_js_found)
  configure_file("${DHT_MQTT_JS}" ${page_build}/mqtt.min.js COPYONLY)
  list(APPEND page_files mqtt.min.js)
else()
  file(REMOVE ${page_build}/mqtt.min.js)
endif()
list(TRANSFORM page_files PREPEND ${page_build}/)
install(FILES ${page_files} DESTINATION ${CMAKE_INSTALL_DATADIR}/dht-tools/www)

// A stand-in for knolleary's PubSubClient 2.8 (see Arduino.h): the same
// declarations; connect, publish and subscribe go to the fake broker of
// arduino_stub.hpp. With real_network, connect() does what 2.8's does on its
// Client: connect it unless connected already, send CONNECT, then wait for
// the answer for the socket timeout (15 s unless set).
#pragma once

#include "Arduino.h"
#include "Client.h"

#include <functional>

#define MQTT_CALLBACK_SIGNATURE std::function<void(char *, std::uint8_t *, unsigned int)> callback

class PubSubClient {
public:
    explicit PubSubClient(Client &client);

    PubSubClient &setServer(const char *domain, std::uint16_t port);
    PubSubClient &setCallback(MQTT_CALLBACK_SIGNATURE);
    PubSubClient &setKeepAlive(std::uint16_t keepAlive);
    PubSubClient &setSocketTimeout(std::uint16_t timeout);
    boolean setBufferSize(std::uint16_t size);
    std::uint16_t getBufferSize();

    boolean connect(const char *id, const char *user, const char *pass, const char *willTopic, std::uint8_t willQos,
                    boolean willRetain, const char *willMessage, boolean cleanSession);
    void disconnect();
    boolean publish(const char *topic, const char *payload, boolean retained);
    boolean subscribe(const char *topic, std::uint8_t qos);
    boolean loop();
    boolean connected();
    int state();

private:
    Client *client_;
    const char *domain_ = nullptr;
    std::uint16_t port_ = 0;
    std::uint16_t socket_timeout_ = 15;  // MQTT_SOCKET_TIMEOUT
    std::function<void(char *, std::uint8_t *, unsigned int)> callback_;
    std::uint16_t buffer_size_ = 256;
    bool connected_ = false;
};

// Arduino's Client: the stream PubSubClient talks MQTT over.
#pragma once

#include "Arduino.h"

class Client {
public:
    virtual ~Client() = default;
};

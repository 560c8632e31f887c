//! `enlace-whatsapp`: the WhatsApp Business Cloud API connector.

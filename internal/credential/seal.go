package credential

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
)

// SealKeySize is the length of a seal key: AES-256.
const SealKeySize = 32

// SealedID is the holder's full ID number encrypted under a railway seal key,
// so that offline gates can match tickets by ID number while any other
// scanner sees only the masked fields (R6).
type SealedID struct {
	// KID names the seal key, so keys can rotate.
	KID uint16
	// Nonce is the AES-GCM nonce, random per pass.
	Nonce [12]byte
	// Ciphertext is the 18-byte ID number followed by the 16-byte GCM tag.
	Ciphertext [34]byte
}

// SealID encrypts an 18-character ID number for the pass of certificate
// certID. The certificate ID is the associated data so that a sealed number
// cannot be moved into another certificate's pass.
func SealID(key []byte, kid uint16, certID [16]byte, idNumber string, rand io.Reader) (SealedID, error) {
	var s SealedID
	if len(idNumber) != sealedIDLen || !printableASCII(idNumber) {
		return s, fmt.Errorf("credential: sealed ID number must be %d printable ASCII bytes", sealedIDLen)
	}
	aead, err := sealCipher(key)
	if err != nil {
		return s, err
	}
	if _, err := io.ReadFull(rand, s.Nonce[:]); err != nil {
		return s, fmt.Errorf("credential: reading seal nonce: %w", err)
	}
	s.KID = kid
	aead.Seal(s.Ciphertext[:0], s.Nonce[:], []byte(idNumber), certID[:])
	return s, nil
}

// Open decrypts the sealed ID number of the pass of certificate certID.
func (s SealedID) Open(key []byte, certID [16]byte) (string, error) {
	aead, err := sealCipher(key)
	if err != nil {
		return "", err
	}
	var buf [sealedIDLen]byte
	plain, err := aead.Open(buf[:0], s.Nonce[:], s.Ciphertext[:], certID[:])
	if err != nil {
		return "", errors.New("credential: sealed ID number does not open with this key and certificate")
	}
	if !printableASCII(string(plain)) {
		return "", errors.New("credential: sealed ID number is not printable ASCII")
	}
	return string(plain), nil
}

func sealCipher(key []byte) (cipher.AEAD, error) {
	if len(key) != SealKeySize {
		return nil, fmt.Errorf("credential: seal key is %d bytes, want %d", len(key), SealKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("credential: seal key: %w", err)
	}
	return cipher.NewGCM(block)
}

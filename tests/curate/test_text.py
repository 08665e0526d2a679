import cv2
import numpy as np
import pytest

from asva.curate.text import TextDetector


@pytest.fixture(scope="module")
def detector():
    return TextDetector()


def test_caption_is_detected_and_shapes_are_not(detector):
    frame = np.full((256, 256, 3), (70, 40, 90), np.uint8)
    cv2.rectangle(frame, (110, 60), (160, 170), (200, 140, 40), -1)  # an upright block: not text
    cv2.circle(frame, (60, 80), 20, (240, 240, 240), -1)
    assert detector.text_area(frame) < 0.003
    cv2.rectangle(frame, (20, 200), (236, 230), (15, 15, 15), -1)
    cv2.putText(frame, "BREAKING NEWS LIVE", (26, 222), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2,
                cv2.LINE_AA)
    assert detector.text_area(frame) > 0.005
